#include "normtrain/data/mnist.hpp"

#include <array>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::idx_bytes;
using testing::TempDir;
using testing::write_bytes;

std::string runtime_error_of(const std::filesystem::path& dir) {
  try {
    load_mnist_split(dir, Split::kTrain);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    return error.what();
  }
  ADD_FAILURE() << "accepted";
  return {};
}

TEST(Mnist, CommittedSubsetIsBalancedRealData) {
  const MnistSplit train = load_mnist_split(testing::tiny_mnist_dir(), Split::kTrain);
  const MnistSplit test = load_mnist_split(testing::tiny_mnist_dir(), Split::kTest);
  EXPECT_EQ(train.count, 2000);
  EXPECT_EQ(test.count, 500);
  ASSERT_EQ(train.images.size(), 2000u * 28 * 28);
  std::array<int, 10> per_class{};
  for (std::uint8_t label : train.labels) ++per_class[label];
  for (int count : per_class) EXPECT_EQ(count, 200);
}

TEST(Mnist, LimitKeepsTheFirstExamples) {
  const MnistSplit all = load_mnist_split(testing::tiny_mnist_dir(), Split::kTest);
  const MnistSplit first = load_mnist_split(testing::tiny_mnist_dir(), Split::kTest, 37);
  EXPECT_EQ(first.count, 37);
  EXPECT_EQ(first.labels, std::vector<std::uint8_t>(all.labels.begin(), all.labels.begin() + 37));
  EXPECT_EQ(first.images.size(), 37u * 28 * 28);
}

TEST(Mnist, MissingDataSaysWhereToPutIt) {
  TempDir dir;
  const std::string message = runtime_error_of(dir.path());
  EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
  EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
  EXPECT_NE(message.find("--data-dir"), std::string::npos) << message;
}

TEST(Mnist, RawFilesAreFoundToo) {
  TempDir dir;
  write_bytes(dir.path() / "train-images-idx3-ubyte",
              idx_bytes({2, 28, 28}, std::vector<std::uint8_t>(2 * 28 * 28, 3)));
  write_bytes(dir.path() / "train-labels-idx1-ubyte", idx_bytes({2}, {4, 9}));
  const MnistSplit split = load_mnist_split(dir.path(), Split::kTrain);
  EXPECT_EQ(split.count, 2);
  EXPECT_EQ(split.labels, (std::vector<std::uint8_t>{4, 9}));
}

TEST(Mnist, WrongImageSize) {
  TempDir dir;
  write_bytes(dir.path() / "train-images-idx3-ubyte",
              idx_bytes({2, 32, 32}, std::vector<std::uint8_t>(2 * 32 * 32)));
  write_bytes(dir.path() / "train-labels-idx1-ubyte", idx_bytes({2}, {1, 2}));
  EXPECT_NE(runtime_error_of(dir.path()).find("28 x 28"), std::string::npos);
}

TEST(Mnist, CountsMustMatch) {
  TempDir dir;
  write_bytes(dir.path() / "train-images-idx3-ubyte",
              idx_bytes({2, 28, 28}, std::vector<std::uint8_t>(2 * 28 * 28)));
  write_bytes(dir.path() / "train-labels-idx1-ubyte", idx_bytes({3}, {1, 2, 3}));
  EXPECT_NE(runtime_error_of(dir.path()).find("must match"), std::string::npos);
}

TEST(Mnist, LabelsOutsideZeroToNine) {
  TempDir dir;
  write_bytes(dir.path() / "train-images-idx3-ubyte",
              idx_bytes({2, 28, 28}, std::vector<std::uint8_t>(2 * 28 * 28)));
  write_bytes(dir.path() / "train-labels-idx1-ubyte", idx_bytes({2}, {1, 10}));
  const std::string message = runtime_error_of(dir.path());
  EXPECT_NE(message.find("label 10 at index 1"), std::string::npos) << message;
}

TEST(Mnist, FullDataSetWhenPresent) {
  if (!testing::has_full_mnist()) GTEST_SKIP() << "full MNIST not at " << testing::full_mnist_dir();
  const MnistSplit test = load_mnist_split(testing::full_mnist_dir(), Split::kTest);
  EXPECT_EQ(test.count, 10000);
}

}  // namespace
}  // namespace normtrain
