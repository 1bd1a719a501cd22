#include "normtrain/data/dataset_info.hpp"

#include <filesystem>

namespace normtrain {
namespace {

// Where Debian's dataset-fashion-mnist package puts the four files.
constexpr const char* kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";

DatasetInfo make_mnist() {
  return {DatasetKind::kMnist,
          "mnist",
          "MNIST",
          0.1307,
          0.3081,
          {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
          {{"train-images-idx3-ubyte", 47040016,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
           {"train-labels-idx1-ubyte", 60008,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
           {"t10k-images-idx3-ubyte", 7840016,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
           {"t10k-labels-idx1-ubyte", 10008,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}},
          {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
          "NORMTRAIN_MNIST_MIRROR"};
}

DatasetInfo make_fashion_mnist() {
  // Checksums of the decompressed files as shipped by Debian's dataset-fashion-mnist
  // (upstream zalandoresearch/fashion-mnist, git 55506a9); statistics are the usual ones.
  return {DatasetKind::kFashionMnist,
          "fashion-mnist",
          "Fashion-MNIST",
          0.2860,
          0.3530,
          {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"},
          {{"train-images-idx3-ubyte", 47040016,
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
           {"train-labels-idx1-ubyte", 60008,
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
           {"t10k-images-idx3-ubyte", 7840016,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
           {"t10k-labels-idx1-ubyte", 10008,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"}},
          {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
          "NORMTRAIN_FASHION_MNIST_MIRROR"};
}

}  // namespace

const DatasetInfo& dataset_info(DatasetKind kind) {
  static const DatasetInfo mnist = make_mnist();
  static const DatasetInfo fashion = make_fashion_mnist();
  return kind == DatasetKind::kFashionMnist ? fashion : mnist;
}

std::string to_flag(DatasetKind kind) {
  return dataset_info(kind).flag;
}

std::optional<DatasetKind> dataset_from_flag(const std::string& flag) {
  for (DatasetKind kind : {DatasetKind::kMnist, DatasetKind::kFashionMnist}) {
    if (dataset_info(kind).flag == flag) return kind;
  }
  return std::nullopt;
}

std::string default_data_dir(DatasetKind kind) {
  if (kind == DatasetKind::kFashionMnist) {
    std::error_code ignored;
    const std::filesystem::path debian = kDebianFashionMnistDir;
    if (std::filesystem::exists(debian / "train-images-idx3-ubyte.gz", ignored)) {
      return debian.string();
    }
  }
  return "data/" + dataset_info(kind).flag;
}

}  // namespace normtrain
