#include "normtrain/data/url_download.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <curl/curl.h>
#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/progress_bar.hpp"
#include "normtrain/version.hpp"

namespace normtrain {
namespace {

// A source that cannot set up a TCP connection within this many seconds is given up on.
constexpr long kConnectTimeoutSeconds = 20;
// A transfer slower than kLowSpeedBytesPerSecond for kLowSpeedSeconds in a row is abandoned, so
// that a stalled source fails instead of hanging the run.
constexpr long kLowSpeedBytesPerSecond = 1024;
constexpr long kLowSpeedSeconds = 60;
constexpr long kMaxRedirects = 10;
// How long a transfer may go without asking UrlDownloadOptions::stop_requested, connecting and
// stalled phases included: Ctrl-C stops a download within this.
constexpr long kStopCheckMilliseconds = 100;

void init_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw RuntimeError(fmt::format("cannot initialise libcurl: {}", curl_easy_strerror(result)));
  }
}

bool stop_requested(const UrlDownloadOptions& options) {
  return options.stop_requested && options.stop_requested();
}

// What the libcurl callbacks share with download_url().
struct Transfer {
  OutputFile* out = nullptr;
  // Set when stop_requested() said stop during the transfer.
  bool stopped = false;
  std::string label;
  const UrlDownloadOptions* options = nullptr;
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
    return CURLE_RECV_ERROR;  // libcurl finished without saying how; count it as the source's
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

}  // namespace

DownloadInterrupted download_interrupted(const std::string& label) {
  return DownloadInterrupted(
      fmt::format("interrupted while downloading {}; the partial file was removed", label));
}

void download_url(const std::string& url, const std::filesystem::path& destination,
                  const std::string& label, const UrlDownloadOptions& options) {
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
  curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(std::min<std::uint64_t>(
                       options.max_bytes, std::numeric_limits<curl_off_t>::max())));
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
  if (!result || transfer.stopped) throw download_interrupted(label);
  if (transfer.error) std::rethrow_exception(transfer.error);
  if (*result != CURLE_OK) {
    throw SourceFailure{error_text[0] != '\0' ? error_text : curl_easy_strerror(*result)};
  }
  out.sync();
  out.close();
}

}  // namespace normtrain
