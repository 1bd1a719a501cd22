#include "normtrain/data/mnist_download.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <unistd.h>

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/data/mnist.hpp"
#include "normtrain/report/progress_bar.hpp"
#include "normtrain/data/sha256.hpp"
#include "normtrain/version.hpp"

namespace normtrain {
namespace {

// A mirror that cannot set up a TCP connection within this many seconds is given up on.
constexpr long kConnectTimeoutSeconds = 20;
// A transfer slower than kLowSpeedBytesPerSecond for kLowSpeedSeconds in a row is abandoned, so
// that a stalled mirror fails instead of hanging the run.
constexpr long kLowSpeedBytesPerSecond = 1024;
constexpr long kLowSpeedSeconds = 60;
constexpr long kMaxRedirects = 10;
// How long a transfer may go without asking DownloadOptions::stop_requested, connecting and
// stalled phases included: Ctrl-C stops a download within this.
constexpr long kStopCheckMilliseconds = 100;
// The largest MNIST file is 47 MB uncompressed; nothing legitimate is bigger than this.
constexpr curl_off_t kMaxDownloadBytes = curl_off_t{256} << 20;
// Read and inflate files in pieces of this size.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

constexpr const char* kMirrorFlag = "--mirror";
constexpr const char* kMirrorEnv = "NORMTRAIN_MNIST_MIRROR";

// Thrown for a failure that another mirror might not have (unreachable host, HTTP error, bad
// content). Local failures (an unwritable data folder) are RuntimeErrors and stop at once.
struct MirrorFailure {
  std::string reason;
};

bool starts_with_ignoring_case(const std::string& text, const std::string& prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

bool is_supported_url(const std::string& url) {
  for (const char* scheme : {"http://", "https://", "file://"}) {
    if (starts_with_ignoring_case(url, scheme) && url.size() > std::string(scheme).size()) {
      return true;
    }
  }
  return false;
}

std::string checked_mirror(const std::string& value, const std::string& source) {
  if (!is_supported_url(value)) {
    throw UsageError(fmt::format(
        "{} '{}' is not a mirror URL: give an http://, https:// or file:// URL of a folder that "
        "holds the four MNIST .gz files, e.g. https://ossci-datasets.s3.amazonaws.com/mnist/ or "
        "file:///srv/mnist/",
        source, value));
  }
  return value;
}

// The SHA-256 and size of a file's content, decompressed first if it is gzip.
struct ContentDigest {
  std::string sha256;
  std::uint64_t size = 0;
  // More than the limit was there; `sha256` and `size` then cover only part of it.
  bool over_limit = false;
  // Why the gzip stream could not be read (truncated, corrupt); empty when it could.
  std::string problem;
};

// Streams the file through zlib and SHA-256: memory use stays at two chunks whatever the file
// holds, and at most `limit` decompressed bytes are hashed, so a gzip bomb costs nothing.
ContentDigest digest_content(const std::filesystem::path& path, std::uint64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw RuntimeError(
        fmt::format("cannot open {}: check that it exists and is readable", path.string()));
  }
  std::vector<std::uint8_t> input(kChunkBytes);
  const auto read_chunk = [&]() -> std::size_t {
    in.read(reinterpret_cast<char*>(input.data()), static_cast<std::streamsize>(input.size()));
    if (in.bad()) throw RuntimeError(fmt::format("cannot read {}", path.string()));
    return static_cast<std::size_t>(in.gcount());
  };

  ContentDigest digest;
  Sha256 hash;
  // Returns false once the content runs past the limit.
  const auto consume = [&](const std::uint8_t* data, std::size_t size) {
    if (size > limit - digest.size) {
      digest.over_limit = true;
      return false;
    }
    hash.update(data, size);
    digest.size += size;
    return true;
  };

  std::size_t got = read_chunk();
  const bool gzip = got >= 2 && input[0] == 0x1f && input[1] == 0x8b;
  if (!gzip) {
    while (got > 0 && consume(input.data(), got)) got = read_chunk();
    digest.sha256 = hash.hex_digest();
    return digest;
  }

  z_stream stream{};
  // 15 window bits + 32: let zlib detect the gzip header.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) {
    throw RuntimeError(fmt::format("cannot start gzip decompression of {}", path.string()));
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end_stream(&stream, inflateEnd);
  std::vector<std::uint8_t> output(kChunkBytes);
  stream.next_in = input.data();
  stream.avail_in = static_cast<uInt>(got);
  bool member_ended = false;
  while (true) {
    if (stream.avail_in == 0) {
      got = read_chunk();
      if (got == 0) break;
      stream.next_in = input.data();
      stream.avail_in = static_cast<uInt>(got);
    }
    if (member_ended) {
      // Another gzip member follows (concatenated .gz files are valid).
      inflateReset(&stream);
      member_ended = false;
    }
    do {
      stream.next_out = output.data();
      stream.avail_out = static_cast<uInt>(output.size());
      const int status = inflate(&stream, Z_NO_FLUSH);
      if (!consume(output.data(), output.size() - stream.avail_out)) return digest;
      if (status == Z_STREAM_END) {
        member_ended = true;
        break;
      }
      if (status == Z_BUF_ERROR && stream.avail_in == 0) break;
      if (status != Z_OK) {
        digest.problem = fmt::format("not a valid gzip stream ({})",
                                     stream.msg != nullptr ? stream.msg : "corrupt data");
        return digest;
      }
    } while (stream.avail_in > 0 || stream.avail_out == 0);
  }
  if (!member_ended) {
    digest.problem = "the gzip stream ends early: the file is truncated";
    return digest;
  }
  digest.sha256 = hash.hex_digest();
  return digest;
}

bool is_gzip_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {};
  in.read(magic, 2);
  return in.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
         static_cast<unsigned char>(magic[1]) == 0x8b;
}

// The file `name` in `dir` as find_data_file would pick it: raw first, then .gz.
std::optional<std::filesystem::path> present_file(const std::filesystem::path& dir,
                                                  const std::string& name) {
  for (const std::filesystem::path& candidate : {dir / name, dir / (name + ".gz")}) {
    std::error_code ignored;
    if (std::filesystem::is_regular_file(candidate, ignored)) return candidate;
  }
  return std::nullopt;
}

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

void init_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw RuntimeError(fmt::format("cannot initialise libcurl: {}", curl_easy_strerror(result)));
  }
}

bool stop_requested(const DownloadOptions& options) {
  return options.stop_requested && options.stop_requested();
}

DownloadInterrupted interrupted(const std::string& label) {
  return DownloadInterrupted(
      fmt::format("interrupted while downloading {}; the partial file was removed", label));
}

// What the libcurl callbacks share with download_to().
struct Transfer {
  OutputFile* out = nullptr;
  // Set when stop_requested() said stop during the transfer.
  bool stopped = false;
  std::string label;
  const DownloadOptions* options = nullptr;
  std::optional<ProgressBar> bar;
  bool bar_started = false;
  curl_off_t bar_drawn_kib = -1;
  // An exception thrown by a callback (a failed write, on_progress), carried past libcurl's C
  // frames.
  std::exception_ptr error;
};

std::size_t write_chunk(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (stop_requested(*transfer->options)) {
    transfer->stopped = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  try {
    transfer->out->write(std::string_view(data, bytes));
  } catch (...) {
    transfer->error = std::current_exception();
    return 0;
  }
  return bytes;
}

int report_progress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (stop_requested(*transfer->options)) {
    transfer->stopped = true;
    return 1;  // aborts the transfer
  }
  try {
    if (transfer->options->on_progress) {
      transfer->options->on_progress(transfer->label, static_cast<std::uint64_t>(done),
                                     static_cast<std::uint64_t>(total));
    }
    if (transfer->bar && total > 0) {
      if (!transfer->bar_started) {
        transfer->bar->start(transfer->label + " (KiB)", total / 1024);
        transfer->bar_started = true;
      }
      // libcurl calls back many times with nothing new; redraw only when the count moves.
      if (done / 1024 != transfer->bar_drawn_kib) {
        transfer->bar_drawn_kib = done / 1024;
        transfer->bar->update(done / 1024);
      }
    }
  } catch (...) {
    transfer->error = std::current_exception();
    return 1;  // aborts the transfer
  }
  return 0;
}

struct CurlCleanup {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

// A multi handle driving one easy handle; detaches and frees it on the way out.
class MultiTransfer {
 public:
  explicit MultiTransfer(CURL* easy) : multi_(curl_multi_init()), easy_(easy) {
    if (multi_ == nullptr || curl_multi_add_handle(multi_, easy_) != CURLM_OK) {
      if (multi_ != nullptr) curl_multi_cleanup(multi_);
      throw RuntimeError("cannot create a libcurl multi handle");
    }
  }
  ~MultiTransfer() {
    curl_multi_remove_handle(multi_, easy_);
    curl_multi_cleanup(multi_);
  }
  MultiTransfer(const MultiTransfer&) = delete;
  MultiTransfer& operator=(const MultiTransfer&) = delete;

  // Runs the transfer, asking `stop` at least every kStopCheckMilliseconds (a signal cuts the
  // wait short). Returns the transfer's result, or nothing when `stop` said stop first.
  template <typename Stop>
  std::optional<CURLcode> run(Stop stop) {
    while (true) {
      int running = 0;
      check(curl_multi_perform(multi_, &running));
      if (stop()) return std::nullopt;
      if (running == 0) break;
#if LIBCURL_VERSION_NUM >= 0x074200  // curl_multi_poll came in 7.66.0
      check(curl_multi_poll(multi_, nullptr, 0, kStopCheckMilliseconds, nullptr));
#else
      check(curl_multi_wait(multi_, nullptr, 0, kStopCheckMilliseconds, nullptr));
#endif
    }
    int queued = 0;
    while (const CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg == CURLMSG_DONE && message->easy_handle == easy_) {
        return message->data.result;
      }
    }
    return CURLE_RECV_ERROR;  // libcurl finished without saying how; count it as the mirror's
  }

 private:
  static void check(CURLMcode status) {
    if (status != CURLM_OK) {
      throw RuntimeError(fmt::format("libcurl failed: {}", curl_multi_strerror(status)));
    }
  }

  CURLM* multi_;
  CURL* easy_;
};

// Fetches `url` into `destination`. Throws MirrorFailure for what the mirror did wrong and
// RuntimeError for what went wrong here.
void download_to(const std::string& url, const std::filesystem::path& destination,
                 const std::string& label, const DownloadOptions& options) {
  init_curl_once();
  const std::unique_ptr<CURL, CurlCleanup> curl(curl_easy_init());
  if (!curl) throw RuntimeError("cannot create a libcurl handle");

  OutputFile out(destination, OutputFile::Mode::kTruncate);
  Transfer transfer;
  transfer.out = &out;
  transfer.label = label;
  transfer.options = &options;
  if (options.show_progress) transfer.bar.emplace(stderr);

  char error_text[CURL_ERROR_SIZE] = "";
  const std::string user_agent = fmt::format("normtrain/{}", kVersion);
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, user_agent.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0 replaced the protocol bitmasks with strings
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS,
                   static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS,
                   static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds);
  curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE, kMaxDownloadBytes);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_chunk);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, report_progress);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);

  MultiTransfer multi(handle);
  const std::optional<CURLcode> result = multi.run([&] {
    transfer.stopped = transfer.stopped || stop_requested(options);
    return transfer.stopped;
  });
  if (transfer.bar_started) transfer.bar->clear();
  if (!result || transfer.stopped) throw interrupted(label);
  if (transfer.error) std::rethrow_exception(transfer.error);
  if (*result != CURLE_OK) {
    throw MirrorFailure{error_text[0] != '\0' ? error_text : curl_easy_strerror(*result)};
  }
  out.sync();
  out.close();
}

// Throws MirrorFailure unless the downloaded file holds exactly the official content.
void check_download(const std::filesystem::path& file, const MnistFileInfo& info,
                    const std::string& label) {
  const ContentDigest digest = digest_content(file, info.size);
  if (!digest.problem.empty()) {
    throw MirrorFailure{fmt::format("{} is corrupt: {}", label, digest.problem)};
  }
  if (digest.over_limit) {
    throw MirrorFailure{
        fmt::format("checksum mismatch for {}: its content is longer than the official {} bytes",
                    label, info.size)};
  }
  if (digest.sha256 != info.sha256) {
    throw MirrorFailure{fmt::format(
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
  std::vector<std::string> failures;
  for (const std::string& mirror : options.mirrors) {
    if (stop_requested(options)) throw interrupted(label);
    const std::string url = mirror_file_url(mirror, label);
    spdlog::info("downloading {} from {}", label, url);
    // The process id keeps two runs sharing a data folder from writing the same file.
    TemporaryFile temporary(dir / fmt::format("{}.{}.part", label, getpid()));
    try {
      download_to(url, temporary.path(), label, options);
      check_download(temporary.path(), info, label);
    } catch (const MirrorFailure& failure) {
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

std::vector<std::string> default_mnist_mirrors() {
  return dataset_info(DatasetKind::kMnist).mirrors;
}

std::vector<std::string> resolve_mirrors(const std::string& flag_value, const char* env_value,
                                         const std::vector<std::string>& defaults) {
  if (!flag_value.empty()) return {checked_mirror(flag_value, kMirrorFlag)};
  if (env_value != nullptr && *env_value != '\0') return {checked_mirror(env_value, kMirrorEnv)};
  return defaults;
}

std::string mirror_file_url(const std::string& mirror, const std::string& file_name) {
  if (!mirror.empty() && mirror.back() == '/') return mirror + file_name;
  return mirror + "/" + file_name;
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
      const ContentDigest digest = digest_content(*path, std::numeric_limits<std::uint64_t>::max());
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
