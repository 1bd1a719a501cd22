#include "normtrain/data/dataset_info.hpp"

#include <gtest/gtest.h>

#include "normtrain/data/mnist.hpp"
#include "normtrain/data/mnist_download.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

TEST(DatasetInfo, FlagsRoundTripAndNamesAreComplete) {
  for (DatasetKind kind : {DatasetKind::kMnist, DatasetKind::kFashionMnist}) {
    const DatasetInfo& info = dataset_info(kind);
    EXPECT_EQ(dataset_from_flag(info.flag), kind);
    EXPECT_EQ(info.class_names.size(), 10u);
    EXPECT_EQ(info.files.size(), 4u);
    EXPECT_FALSE(info.mirrors.empty());
  }
  EXPECT_FALSE(dataset_from_flag("cifar10").has_value());
  EXPECT_EQ(dataset_info(DatasetKind::kFashionMnist).class_names[9], "Ankle boot");
  EXPECT_DOUBLE_EQ(dataset_info(DatasetKind::kFashionMnist).mean, 0.2860);
  EXPECT_DOUBLE_EQ(dataset_info(DatasetKind::kFashionMnist).std, 0.3530);
}

TEST(DatasetInfo, DefaultDataDirs) {
  EXPECT_EQ(default_data_dir(DatasetKind::kMnist), "data/mnist");
  const std::string fashion = default_data_dir(DatasetKind::kFashionMnist);
  const bool debian_package =
      std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
  EXPECT_EQ(fashion, debian_package ? "/usr/share/datasets/fashion-mnist" : "data/fashion-mnist");
}

TEST(DatasetInfo, GeneratedFashionFixtureLoadsAndIsNotTheOfficialData) {
  testing::TempDir dir;
  // Three 28x28 "garments" with labels 9 (Ankle boot), 0 and 5.
  std::vector<std::uint8_t> pixels(3 * 28 * 28);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i % 251);
  for (const char* split : {"train", "t10k"}) {
    testing::write_bytes(dir.path() / (std::string(split) + "-images-idx3-ubyte.gz"),
                         testing::gzip_bytes(testing::idx_bytes({3, 28, 28}, pixels)));
    testing::write_bytes(dir.path() / (std::string(split) + "-labels-idx1-ubyte"),
                         testing::idx_bytes({3}, {9, 0, 5}));
  }
  const MnistSplit train = load_mnist_split(dir.path(), Split::kTrain);
  EXPECT_EQ(train.count, 3);
  EXPECT_EQ(train.labels, (std::vector<std::uint8_t>{9, 0, 5}));
  EXPECT_EQ(train.images, pixels);
  for (const VerifyResult& result :
       verify_mnist_files(dir.path(), dataset_info(DatasetKind::kFashionMnist).files)) {
    EXPECT_EQ(result.check, FileCheck::kDiffers) << result.name;
  }
}

TEST(DatasetInfo, DebianFashionMnistMatchesItsChecksums) {
  const std::filesystem::path debian = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(debian / "train-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  }
  for (const VerifyResult& result :
       verify_mnist_files(debian, dataset_info(DatasetKind::kFashionMnist).files)) {
    EXPECT_EQ(result.check, FileCheck::kMatches) << result.name;
  }
}

}  // namespace
}  // namespace normtrain
