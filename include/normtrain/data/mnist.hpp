#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace normtrain {

// The network is built for 28x28 single-channel images.
inline constexpr int kImageSide = 28;
inline constexpr int kNumClasses = 10;

enum class Split { kTrain, kTest };

// One split of MNIST as read from disk: `count` images of 28x28 bytes, one label byte each.
struct MnistSplit {
  std::int64_t count = 0;
  std::vector<std::uint8_t> images;
  std::vector<std::uint8_t> labels;
};

// Standard file names, e.g. "train-images-idx3-ubyte", without any .gz suffix.
std::string images_file_name(Split split);
std::string labels_file_name(Split split);

// The path of `name` in `dir`: the raw file if present, else `name`.gz. Throws a runtime Error
// saying where to put the data when neither exists.
std::filesystem::path find_data_file(const std::filesystem::path& dir, const std::string& name);

// Reads and checks one split: 28x28 images, as many labels as images, every label 0-9.
// `limit` > 0 keeps only the first `limit` examples.
MnistSplit load_mnist_split(const std::filesystem::path& dir, Split split, std::int64_t limit = 0);

}  // namespace normtrain
