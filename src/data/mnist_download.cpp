#include "normtrain/data/mnist_download.hpp"

#include <optional>

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/content_digest.hpp"

namespace normtrain {
namespace {

// The largest MNIST file is 47 MB uncompressed; nothing legitimate is bigger than this.
constexpr std::uint64_t kMaxDownloadBytes = std::uint64_t{256} << 20;

// The file `name` in `dir` as find_data_file would pick it: raw first, then .gz.
std::optional<std::filesystem::path> present_file(const std::filesystem::path& dir,
                                                  const std::string& name) {
  for (const std::filesystem::path& candidate : {dir / name, dir / (name + ".gz")}) {
    std::error_code ignored;
    if (std::filesystem::is_regular_file(candidate, ignored)) return candidate;
  }
  return std::nullopt;
}

bool stop_requested(const DownloadOptions& options) {
  return options.stop_requested && options.stop_requested();
}

UrlDownloadOptions transfer_options(const DownloadOptions& options) {
  UrlDownloadOptions transfer;
  transfer.show_progress = options.show_progress;
  transfer.on_progress = options.on_progress;
  transfer.stop_requested = options.stop_requested;
  transfer.max_bytes = kMaxDownloadBytes;
  return transfer;
}

// Throws SourceFailure unless the downloaded file holds exactly the official content.
void check_download(const std::filesystem::path& file, const MnistFileInfo& info,
                    const std::string& label) {
  const ContentDigest digest = digest_content(file, info.size);
  if (!digest.problem.empty()) {
    throw SourceFailure{fmt::format("{} is corrupt: {}", label, digest.problem)};
  }
  if (digest.over_limit) {
    throw SourceFailure{
        fmt::format("checksum mismatch for {}: its content is longer than the official {} bytes",
                    label, info.size)};
  }
  if (digest.sha256 != info.sha256) {
    throw SourceFailure{fmt::format(
        "checksum mismatch for {}: expected SHA-256 {} but got {} ({} bytes decompressed, the "
        "official file has {})",
        label, info.sha256, digest.sha256, digest.size, info.size)};
  }
}

// Fetches one file from the first mirror that delivers it intact.
void fetch_file(const std::filesystem::path& dir, const MnistFileInfo& info,
                const DownloadOptions& options) {
  const std::string label = info.name + ".gz";
  if (options.mirrors.empty()) {
    throw RuntimeError(fmt::format(
        "{} is missing from {} and no mirror is configured to download it from: pass one with "
        "{} URL or put the file there by hand",
        label, dir.string(), kMirrorFlag));
  }
  const UrlDownloadOptions transfer = transfer_options(options);
  std::vector<std::string> failures;
  for (const std::string& mirror : options.mirrors) {
    if (stop_requested(options)) throw download_interrupted(label);
    const std::string url = mirror_file_url(mirror, label);
    spdlog::info("downloading {} from {}", label, url);
    // The process id keeps two runs sharing a data folder from writing the same file.
    TemporaryFile temporary(dir / fmt::format("{}.{}.part", label, getpid()));
    try {
      download_url(url, temporary.path(), label, transfer);
      check_download(temporary.path(), info, label);
    } catch (const SourceFailure& failure) {
      // A failure that another mirror might not have; local failures (an unwritable data
      // folder) are RuntimeErrors and stop at once.
      spdlog::warn("could not download {} from {}: {}", label, mirror, failure.reason);
      failures.push_back(fmt::format("{}: {}", mirror, failure.reason));
      continue;
    }
    // A mirror serving the file uncompressed gets it stored under the raw name.
    const std::filesystem::path target =
        is_gzip_file(temporary.path()) ? dir / label : dir / info.name;
    std::error_code error;
    std::filesystem::rename(temporary.path(), target, error);
    if (error) {
      throw RuntimeError(fmt::format("cannot move {} to {}: {}", temporary.path().string(),
                                     target.string(), error.message()));
    }
    temporary.release();
    return;
  }
  throw RuntimeError(fmt::format(
      "cannot download MNIST file {} into {}; every mirror failed:\n  {}\nCheck the network "
      "connection, choose another mirror with {} URL (or {}), or put the four MNIST files in {} "
      "by hand",
      label, dir.string(), fmt::join(failures, "\n  "), kMirrorFlag, kMirrorEnv, dir.string()));
}

}  // namespace

const std::vector<MnistFileInfo>& official_mnist_files() {
  return dataset_info(DatasetKind::kMnist).files;
}

std::vector<std::string> ensure_mnist_files(const std::filesystem::path& dir,
                                            const DownloadOptions& options) {
  std::vector<const MnistFileInfo*> missing;
  for (const MnistFileInfo& info : options.files) {
    if (!present_file(dir, info.name)) missing.push_back(&info);
  }
  if (missing.empty()) return {};

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    throw RuntimeError(
        fmt::format("cannot create the MNIST data folder {} ({}); choose another with --data-dir",
                    dir.string(), error ? error.message() : "a file of that name exists"));
  }
  std::vector<std::string> downloaded;
  for (const MnistFileInfo* info : missing) {
    fetch_file(dir, *info, options);
    downloaded.push_back(info->name);
  }
  return downloaded;
}

const char* file_check_name(FileCheck check) {
  switch (check) {
    case FileCheck::kMatches:
      return "matches";
    case FileCheck::kDiffers:
      return "differs";
    case FileCheck::kMissing:
      return "missing";
  }
  return "unknown";
}

std::vector<VerifyResult> verify_mnist_files(const std::filesystem::path& dir,
                                             const std::vector<MnistFileInfo>& files) {
  std::vector<VerifyResult> results;
  for (const MnistFileInfo& info : files) {
    VerifyResult result;
    result.name = info.name;
    const std::optional<std::filesystem::path> path = present_file(dir, info.name);
    if (!path) {
      results.push_back(result);
      continue;
    }
    result.path = *path;
    result.check = FileCheck::kDiffers;
    try {
      const ContentDigest digest = digest_content(*path);
      if (!digest.problem.empty()) {
        result.detail = digest.problem;
      } else {
        result.sha256 = digest.sha256;
        if (digest.sha256 == info.sha256 && digest.size == info.size) {
          result.check = FileCheck::kMatches;
        }
      }
    } catch (const Error& error) {
      result.detail = error.what();
    }
    results.push_back(result);
  }
  return results;
}

}  // namespace normtrain
