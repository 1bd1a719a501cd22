#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace normtrain {

// Thrown by download_url, and by ensure_mnist_files, when the stop check says stop (Ctrl-C): not
// a failure of the run's inputs but the user's wish, which main reports with exit status 130. The
// partial file is gone by then; files completed before it stay.
struct DownloadInterrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The DownloadInterrupted for a stopped download of `label` (e.g. "train-images-idx3-ubyte.gz").
DownloadInterrupted download_interrupted(const std::string& label);

// Thrown for a failure that another source might not have (unreachable host, HTTP error, a file
// over the size limit; callers add bad content). Local failures (an unwritable destination) are
// RuntimeErrors and stop at once.
struct SourceFailure {
  std::string reason;
};

struct UrlDownloadOptions {
  // Draws a ProgressBar on stderr while downloading; set it only when stderr is a terminal.
  bool show_progress = false;
  // Called as bytes arrive with the download's label, the bytes received so far and the
  // expected total (0 while unknown). Optional.
  std::function<void(const std::string& label, std::uint64_t done, std::uint64_t total)>
      on_progress;
  // Asked several times a second, connecting and stalled phases included; true stops the
  // transfer within a fraction of a second with DownloadInterrupted. Empty = never stop.
  std::function<bool()> stop_requested;
  // A download whose announced size is larger fails at once with SourceFailure; 0 = no limit.
  // libcurl checks the size an http(s) server announces, not that of a file:// URL.
  std::uint64_t max_bytes = 0;
};

// Fetches `url` (http://, https:// or file://; redirects to http:// or https:// only) into
// `destination`, replacing what it held, and makes it durable. `label` names the download in
// progress reports and in DownloadInterrupted. A source that does not connect, or stalls, is
// given up on (see the timeouts in url_download.cpp). Throws SourceFailure for what the source
// did wrong, RuntimeError for what went wrong here (a full disk) and DownloadInterrupted when
// stopped; in each case `destination` keeps what had arrived: a TemporaryFile removes it.
void download_url(const std::string& url, const std::filesystem::path& destination,
                  const std::string& label, const UrlDownloadOptions& options);

// Removes the file when it goes out of scope, unless released: a failed download leaves nothing.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::filesystem::path path_;
};

}  // namespace normtrain
