#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "normtrain/data/dataset_info.hpp"
#include "normtrain/data/mirror_urls.hpp"
#include "normtrain/data/url_download.hpp"
#include "normtrain/train/interrupt.hpp"

// The MNIST download policy: which files, the mirrors tried in order, each download checked
// against the official digest; and --verify-data. Built on mirror_urls (which mirrors),
// url_download (one transfer) and content_digest (what a file holds).
namespace normtrain {

// The four files, training images and labels first, then test images and labels.
const std::vector<MnistFileInfo>& official_mnist_files();

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
