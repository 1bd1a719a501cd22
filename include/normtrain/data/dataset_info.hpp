#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace normtrain {

// One of the four IDX files of a data set: its standard name (no .gz) and the size and SHA-256
// of its decompressed content. Checking the content rather than the archive lets both the
// official .gz files and recompressed copies pass.
struct MnistFileInfo {
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;
};

// The data sets in MNIST's format that the network can train on: 28x28 grey images, 10 classes.
enum class DatasetKind { kMnist, kFashionMnist };

// What normtrain knows about a data set.
struct DatasetInfo {
  DatasetKind kind;
  std::string flag;   // --dataset spelling
  std::string title;  // for people
  // Per-pixel mean and standard deviation of the training images scaled to [0, 1].
  double mean;
  double std;
  std::vector<std::string> class_names;
  // Training images and labels, then test images and labels.
  std::vector<MnistFileInfo> files;
  // Where missing files are downloaded from, in order; the environment variable that replaces
  // them.
  std::vector<std::string> mirrors;
  std::string mirror_env;
};

const DatasetInfo& dataset_info(DatasetKind kind);
// The --dataset spelling ("mnist", "fashion-mnist") and back.
std::string to_flag(DatasetKind kind);
std::optional<DatasetKind> dataset_from_flag(const std::string& flag);

// --data-dir when none is given: data/<flag>, or for Fashion-MNIST the folder Debian's
// dataset-fashion-mnist package installs, when it is there.
std::string default_data_dir(DatasetKind kind);

}  // namespace normtrain
