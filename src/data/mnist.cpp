#include "normtrain/data/mnist.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/idx.hpp"

namespace normtrain {

std::string images_file_name(Split split) {
  return split == Split::kTrain ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
}

std::string labels_file_name(Split split) {
  return split == Split::kTrain ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
}

std::filesystem::path find_data_file(const std::filesystem::path& dir, const std::string& name) {
  for (const std::filesystem::path& candidate : {dir / name, dir / (name + ".gz")}) {
    std::error_code ignored;
    if (std::filesystem::is_regular_file(candidate, ignored)) return candidate;
  }
  throw RuntimeError(fmt::format(
      "MNIST file {} (or {}.gz) not found in {}. Put the four MNIST IDX files "
      "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
      "t10k-labels-idx1-ubyte, raw or .gz) there, point --data-dir at the folder that has them, "
      "or leave out --no-download to have them fetched",
      name, name, dir.string()));
}

MnistSplit load_mnist_split(const std::filesystem::path& dir, Split split, std::int64_t limit) {
  const std::filesystem::path images_path = find_data_file(dir, images_file_name(split));
  const std::filesystem::path labels_path = find_data_file(dir, labels_file_name(split));
  IdxArray images = read_idx_file(images_path);
  IdxArray labels = read_idx_file(labels_path);

  if (images.dims.size() != 3 || images.dims[1] != kImageSide || images.dims[2] != kImageSide) {
    throw RuntimeError(
        fmt::format("{} holds {}-dimensional data of shape {}; the model needs "
                    "N x 28 x 28 images",
                    images_path.string(), images.dims.size(), fmt::join(images.dims, "x")));
  }
  if (labels.dims.size() != 1) {
    throw RuntimeError(fmt::format("{} holds {}-dimensional data; labels must be one-dimensional",
                                   labels_path.string(), labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    throw RuntimeError(fmt::format("{} has {} images but {} has {} labels; they must match",
                                   images_path.string(), images.dims[0], labels_path.string(),
                                   labels.dims[0]));
  }
  if (images.dims[0] == 0) {
    throw RuntimeError(fmt::format("{} holds no images", images_path.string()));
  }
  const auto bad_label = std::find_if(labels.values.begin(), labels.values.end(),
                                      [](std::uint8_t label) { return label >= kNumClasses; });
  if (bad_label != labels.values.end()) {
    throw RuntimeError(fmt::format("{}: label {} at index {} is outside 0-9", labels_path.string(),
                                   *bad_label, bad_label - labels.values.begin()));
  }

  MnistSplit result;
  result.count = images.dims[0];
  if (limit > 0 && limit < result.count) result.count = limit;
  images.values.resize(static_cast<std::size_t>(result.count) * kImageSide * kImageSide);
  labels.values.resize(static_cast<std::size_t>(result.count));
  result.images = std::move(images.values);
  result.labels = std::move(labels.values);
  return result;
}

}  // namespace normtrain
