#include "normtrain/data/dataset.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace normtrain {
namespace {

TEST(Dataset, NormalizationConstantsAreMnists) {
  EXPECT_DOUBLE_EQ(dataset_info(DatasetKind::kMnist).mean, 0.1307);
  EXPECT_DOUBLE_EQ(dataset_info(DatasetKind::kMnist).std, 0.3081);
}

TEST(Dataset, PixelsScaleToUnitRangeThenNormalize) {
  const torch::Tensor pixels = torch::tensor({0, 255, 51}, torch::kUInt8).view({1, 1, 3});
  const torch::Tensor unit = to_unit_range(pixels);
  EXPECT_EQ(unit.sizes(), (std::vector<std::int64_t>{1, 1, 1, 3}));
  EXPECT_TRUE(torch::allclose(unit.flatten(), torch::tensor({0.0f, 1.0f, 0.2f})));
  const torch::Tensor normalized = normalize(unit, 0.1307, 0.3081).flatten();
  EXPECT_NEAR(normalized[0].item<double>(), -0.1307 / 0.3081, 1e-6);
  EXPECT_NEAR(normalized[1].item<double>(), (1 - 0.1307) / 0.3081, 1e-6);
}

TEST(Dataset, TensorsMatchTheFiles) {
  const MnistSplit split = load_mnist_split(testing::tiny_mnist_dir(), Split::kTest);
  const TensorDataset data =
      to_tensor_dataset(split, torch::kCPU, dataset_info(DatasetKind::kMnist));
  EXPECT_EQ(data.size(), 500);
  EXPECT_EQ(data.images.sizes(), (std::vector<std::int64_t>{500, 28, 28}));
  EXPECT_EQ(data.labels.dtype(), torch::kInt64);
  EXPECT_EQ(data.labels[7].item<std::int64_t>(), split.labels[7]);
  EXPECT_EQ(data.images[3][14][14].item<std::uint8_t>(), split.images[3 * 784 + 14 * 28 + 14]);
}

}  // namespace
}  // namespace normtrain
