#include "normtrain/data/batches.hpp"

#include <gtest/gtest.h>

#include "normtrain/data/augment.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

TensorDataset tiny_test_set() {
  return to_tensor_dataset(load_mnist_split(testing::tiny_mnist_dir(), Split::kTest), torch::kCPU,
                           dataset_info(DatasetKind::kMnist));
}

TEST(EpochBatches, SameSeedAndEpochReplayExactly) {
  const TensorDataset data = tiny_test_set();
  const EpochBatches a(data, 128, 1, 3);
  const EpochBatches b(data, 128, 1, 3);
  EXPECT_TRUE(torch::equal(a.order(), b.order()));
  EXPECT_TRUE(torch::equal(a.angles(), b.angles()));
  EXPECT_TRUE(torch::equal(a[2].inputs, b[2].inputs));
}

TEST(EpochBatches, EpochsAndSeedsShuffleDifferently) {
  const TensorDataset data = tiny_test_set();
  const EpochBatches base(data, 128, 1, 1);
  EXPECT_FALSE(torch::equal(base.order(), EpochBatches(data, 128, 1, 2).order()));
  EXPECT_FALSE(torch::equal(base.order(), EpochBatches(data, 128, 2, 1).order()));
}

TEST(EpochBatches, EveryExampleOnceAndLastPartialBatchKept) {
  const TensorDataset data = tiny_test_set();
  const EpochBatches batches(data, 128, 1, 1);
  ASSERT_EQ(batches.size(), 4);  // 500 = 3 x 128 + 116
  EXPECT_TRUE(torch::equal(std::get<0>(batches.order().sort()), torch::arange(500)));
  EXPECT_EQ(batches[3].inputs.size(0), 116);
  std::int64_t seen = 0;
  for (std::int64_t i = 0; i < batches.size(); ++i) seen += batches[i].targets.size(0);
  EXPECT_EQ(seen, 500);
}

TEST(EpochBatches, AnglesStayWithinSevenDegrees) {
  const TensorDataset data = tiny_test_set();
  const torch::Tensor angles = EpochBatches(data, 128, 5, 1).angles();
  EXPECT_LE(angles.abs().max().item<double>(), kMaxRotationDegrees);
  // Spread over the range, not stuck near 0.
  EXPECT_GT(angles.max().item<double>(), 6.0);
  EXPECT_LT(angles.min().item<double>(), -6.0);
}

TEST(EpochBatches, BatchesPairImagesWithTheirLabels) {
  const TensorDataset data = tiny_test_set();
  const EpochBatches batches(data, 64, 1, 1);
  const Batch batch = batches[1];
  const torch::Tensor picked = batches.order().slice(0, 64, 128);
  EXPECT_TRUE(torch::equal(batch.targets, data.labels.index_select(0, picked)));
  EXPECT_EQ(batch.inputs.sizes(), (std::vector<std::int64_t>{64, 1, 28, 28}));
}

TEST(PlainBatch, IsNormalizedAndUnrotated) {
  const TensorDataset data = tiny_test_set();
  const Batch batch = plain_batch(data, 10, 5);
  const torch::Tensor expected =
      normalize(to_unit_range(data.images.slice(0, 10, 15)), data.mean, data.std);
  EXPECT_TRUE(torch::equal(batch.inputs, expected));
  EXPECT_TRUE(torch::equal(batch.targets, data.labels.slice(0, 10, 15)));
}

}  // namespace
}  // namespace normtrain
