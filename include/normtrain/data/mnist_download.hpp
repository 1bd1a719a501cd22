#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "normtrain/data/dataset_info.hpp"
#include "normtrain/train/interrupt.hpp"

namespace normtrain {

// Thrown by ensure_mnist_files when `DownloadOptions::stop_requested` says stop (Ctrl-C): not a
// failure of the run's inputs but the user's wish, which main reports with exit status 130. The
// partial file is gone by then; files completed before it stay.
struct DownloadInterrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The four files, training images and labels first, then test images and labels.
const std::vector<MnistFileInfo>& official_mnist_files();

// Where the four files are fetched from when missing, tried in order.
std::vector<std::string> default_mnist_mirrors();

// The mirrors to use: `flag_value` (--mirror) when not empty, else `env_value`
// (NORMTRAIN_MNIST_MIRROR) when set and not empty, else the defaults. A given mirror replaces
// the list. Throws a usage Error naming the flag or variable when the value is not an http://,
// https:// or file:// URL.
std::vector<std::string> resolve_mirrors(
    const std::string& flag_value, const char* env_value,
    const std::vector<std::string>& defaults = default_mnist_mirrors());

// The URL of `file_name` on `mirror`, whether or not the mirror ends in '/'.
std::string mirror_file_url(const std::string& mirror, const std::string& file_name);

struct DownloadOptions {
  // Tried in order for each file until one delivers it intact.
  std::vector<std::string> mirrors = default_mnist_mirrors();
  // The files to fetch and their checksums (another data set in MNIST's format may be given).
  std::vector<MnistFileInfo> files = official_mnist_files();
  // Draws a ProgressBar on stderr while downloading; set it only when stderr is a terminal.
  bool show_progress = false;
  // Called as bytes arrive with the file name (e.g. "train-images-idx3-ubyte.gz"), the bytes
  // received so far and the expected total (0 while unknown). Optional.
  std::function<void(const std::string& file, std::uint64_t done, std::uint64_t total)> on_progress;
  // Asked several times a second during a transfer, and before each file and mirror; true stops
  // the download within a fraction of a second with DownloadInterrupted. Empty = never stop.
  std::function<bool()> stop_requested = interrupt_requested;
};

// Downloads whichever of the four files are missing from `dir` (neither `name` nor `name`.gz
// there), creating `dir` if needed. Each download goes to a temporary file in `dir`, is checked
// against the official SHA-256 of its decompressed content and only then renamed to `name`.gz
// (or `name` should a mirror serve it uncompressed). Files already present are the user's and
// are neither checked nor touched. Returns the names (without .gz) it downloaded, in order.
// Throws a runtime Error naming the file and every mirror's failure when no mirror delivers an
// intact copy, and DownloadInterrupted when stopped; a failed or stopped download leaves nothing
// behind (files completed before it stay).
std::vector<std::string> ensure_mnist_files(const std::filesystem::path& dir,
                                            const DownloadOptions& options);

enum class FileCheck { kMatches, kDiffers, kMissing };

// "matches", "differs" or "missing".
const char* file_check_name(FileCheck check);

struct VerifyResult {
  std::string name;  // standard name, e.g. "train-images-idx3-ubyte"
  std::filesystem::path
      path;  // the file checked (raw preferred, as in find_data_file); empty if missing
  FileCheck check = FileCheck::kMissing;
  std::string sha256;  // of the decompressed content; empty if missing or unreadable
  std::string detail;  // why it differs when its content could not be read, else empty
};

// For --verify-data: checks each of the four files present in `dir` against the official
// checksums, in the order of official_mnist_files(). Never throws for a bad or missing file;
// that is what the result reports.
std::vector<VerifyResult> verify_mnist_files(
    const std::filesystem::path& dir,
    const std::vector<MnistFileInfo>& files = official_mnist_files());

}  // namespace normtrain
