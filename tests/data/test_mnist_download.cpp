#include "normtrain/data/mnist_download.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <zlib.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/sha256.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::gzip_bytes;
using testing::idx_bytes;
using testing::TempDir;
using testing::write_bytes;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";

std::string file_url(const fs::path& dir) {
  return "file://" + fs::weakly_canonical(dir).string() + "/";
}

// The names of everything in `dir`, sorted.
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

std::set<std::string> gz_names(const std::vector<std::string>& names) {
  std::set<std::string> out;
  for (const std::string& name : names) out.insert(name + ".gz");
  return out;
}

std::vector<std::string> all_names() {
  std::vector<std::string> names;
  for (const MnistFileInfo& info : official_mnist_files()) names.push_back(info.name);
  return names;
}

// Copies the four .gz files of `from` into a new mirror folder.
void copy_mnist_gz(const fs::path& from, const fs::path& to) {
  for (const std::string& name : all_names()) {
    fs::copy_file(from / (name + ".gz"), to / (name + ".gz"));
  }
}

std::vector<std::uint8_t> gunzip_file(const fs::path& path) {
  gzFile file = gzopen(path.string().c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot open " + path.string());
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  int got = 0;
  while ((got = gzread(file, chunk, sizeof chunk)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  gzclose(file);
  if (got < 0) throw std::runtime_error("cannot decompress " + path.string());
  return bytes;
}

std::string download_error(const fs::path& dir, const DownloadOptions& options) {
  try {
    ensure_mnist_files(dir, options);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    return error.what();
  }
  ADD_FAILURE() << "the download succeeded";
  return {};
}

DownloadOptions from_mirrors(std::vector<std::string> mirrors) {
  DownloadOptions options;
  options.mirrors = std::move(mirrors);
  return options;
}

// An HTTP server on 127.0.0.1 for stopping tests: it answers every request with a 50 MB body
// that it sends a few bytes at a time (kTrickle) or not at all after the first bytes (kStall),
// so that a download is still running whenever a test decides to stop it.
class SlowServer {
 public:
  enum class Pace { kTrickle, kStall };

  explicit SlowServer(Pace pace) : pace_(pace) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listener_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // any free port
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(listener_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~SlowServer() {
    done_ = true;
    thread_.join();
    ::close(listener_);
  }
  SlowServer(const SlowServer&) = delete;
  SlowServer& operator=(const SlowServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mnist/"; }
  int requests() const { return requests_; }

 private:
  // Waits up to 20 ms for `fd` to have `events`; false when the server is shutting down.
  bool wait_for(int fd, short events) {
    pollfd entry{fd, events, 0};
    while (!done_) {
      if (::poll(&entry, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (wait_for(listener_, POLLIN)) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      ++requests_;
      answer(client);
      ::close(client);
    }
  }

  void answer(int client) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (!wait_for(client, POLLIN)) return;
      const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
      if (got <= 0) return;
      request.append(buffer, static_cast<std::size_t>(got));
    }
    const std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 50000000\r\n\r\n";
    if (!send_all(client, head)) return;
    const std::string piece(64, '\x1f');
    if (!send_all(client, piece)) return;
    while (!done_) {
      std::this_thread::sleep_for(10ms);
      // The client hung up: the download was stopped.
      pollfd entry{client, POLLIN, 0};
      if (::poll(&entry, 1, 0) > 0 && ::recv(client, buffer, sizeof buffer, MSG_DONTWAIT) <= 0) {
        return;
      }
      if (pace_ == Pace::kTrickle && !send_all(client, piece)) return;
    }
  }

  static bool send_all(int client, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(client, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  Pace pace_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// The names in `dir` that end in ".part": downloads in progress.
std::vector<fs::path> part_files(const fs::path& dir) {
  std::vector<fs::path> parts;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".part") parts.push_back(entry.path());
  }
  return parts;
}

// Starts a download from `server`, flips the stop flag once the partial file has been on disk
// for a while, and checks that the download ends soon after with DownloadInterrupted and leaves
// no file behind.
void expect_prompt_stop(SlowServer& server) {
  TempDir data;
  std::atomic<bool> stop{false};
  std::atomic<bool> receiving{false};
  DownloadOptions options = from_mirrors({server.url(), server.url()});
  options.stop_requested = [&] { return stop.load(); };
  options.on_progress = [&](const std::string&, std::uint64_t done, std::uint64_t total) {
    if (done > 0 && total == 50000000) receiving = true;
  };

  Clock::time_point stopped_at{};
  bool saw_partial_file = false;
  std::thread stopper([&] {
    const Clock::time_point give_up = Clock::now() + 10s;
    while (!receiving && Clock::now() < give_up) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(300ms);
    const std::vector<fs::path> parts = part_files(data.path());
    saw_partial_file = parts.size() == 1 && fs::file_size(parts[0]) > 0;
    stopped_at = Clock::now();
    stop = true;
  });
  std::string message;
  try {
    ensure_mnist_files(data.path(), options);
    ADD_FAILURE() << "the download finished";
  } catch (const DownloadInterrupted& error) {
    message = error.what();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "not DownloadInterrupted: " << error.what();
  }
  const Clock::time_point returned = Clock::now();
  stopper.join();

  EXPECT_TRUE(saw_partial_file) << "the download never wrote its partial file";
  EXPECT_LT(returned - stopped_at, 1s)
      << std::chrono::duration_cast<std::chrono::milliseconds>(returned - stopped_at).count()
      << " ms";
  EXPECT_NE(message.find("train-images-idx3-ubyte.gz"), std::string::npos) << message;
  EXPECT_TRUE(listing(data.path()).empty()) << *listing(data.path()).begin();
  // Stopped, not failed over: the second mirror was never asked.
  EXPECT_EQ(server.requests(), 1);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::vector<std::uint8_t>{'a', 'b', 'c'}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsWholeAndRestartsAfterDigest) {
  Sha256 hash;
  hash.update("a", 1);
  hash.update("bc", 2);
  EXPECT_EQ(hash.hex_digest(), sha256_hex(std::string_view("abc")));
  EXPECT_EQ(hash.hex_digest(), sha256_hex(std::string_view("")));
}

TEST(DownloadMirrors, FlagWinsOverEnvironmentWhichWinsOverDefaults) {
  EXPECT_EQ(resolve_mirrors("file:///flag/", "https://env.example/"),
            std::vector<std::string>{"file:///flag/"});
  EXPECT_EQ(resolve_mirrors("", "https://env.example/"),
            std::vector<std::string>{"https://env.example/"});
  EXPECT_EQ(resolve_mirrors("", ""), default_mnist_mirrors());
  EXPECT_EQ(resolve_mirrors("", nullptr), default_mnist_mirrors());
  const std::vector<std::string> defaults = default_mnist_mirrors();
  ASSERT_EQ(defaults.size(), 2u);
  EXPECT_EQ(defaults[0], "https://ossci-datasets.s3.amazonaws.com/mnist/");
  EXPECT_EQ(defaults[1], "http://yann.lecun.com/exdb/mnist/");
}

TEST(DownloadMirrors, RejectsWhatIsNotAUrlNamingItsSource) {
  try {
    resolve_mirrors("/srv/mnist", nullptr);
    FAIL() << "accepted a bare path";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(error.what()).find("--mirror"), std::string::npos);
  }
  try {
    resolve_mirrors("", "ftp://example.org/mnist/");
    FAIL() << "accepted ftp://";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(error.what()).find("NORMTRAIN_MNIST_MIRROR"), std::string::npos);
  }
  EXPECT_NO_THROW(resolve_mirrors("HTTPS://Example.org/mnist", nullptr));
}

TEST(DownloadMirrors, FileUrlToleratesAMissingTrailingSlash) {
  EXPECT_EQ(mirror_file_url("https://a.example/mnist/", "x.gz"), "https://a.example/mnist/x.gz");
  EXPECT_EQ(mirror_file_url("https://a.example/mnist", "x.gz"), "https://a.example/mnist/x.gz");
}

TEST(Download, FetchesAllFourFilesFromAFileMirror) {
  if (!testing::has_full_mnist()) {
    GTEST_SKIP() << "the full MNIST is not at " << testing::full_mnist_dir().string();
  }
  TempDir data;
  const fs::path dir = data.path() / "nested" / "mnist";  // created on demand
  std::string mirror = file_url(testing::full_mnist_dir());
  mirror.pop_back();  // no trailing slash
  DownloadOptions options = from_mirrors({mirror});
  std::uint64_t last_done = 0;
  std::uint64_t last_total = 0;
  options.on_progress = [&](const std::string&, std::uint64_t done, std::uint64_t total) {
    last_done = done;
    last_total = total;
  };

  EXPECT_EQ(ensure_mnist_files(dir, options), all_names());
  EXPECT_EQ(listing(dir), gz_names(all_names()));
  EXPECT_GT(last_done, 0u);
  EXPECT_EQ(last_done, last_total);
  for (const VerifyResult& result : verify_mnist_files(dir)) {
    EXPECT_EQ(result.check, FileCheck::kMatches) << result.name << ": " << result.detail;
    EXPECT_EQ(result.path, dir / (result.name + ".gz"));
  }
  // A second call finds everything in place.
  EXPECT_TRUE(ensure_mnist_files(dir, options).empty());
}

TEST(Download, CorruptFileFailsTheChecksumAndLeavesNothing) {
  TempDir data;
  TempDir mirror;
  // The user already has three files (their own); only the training labels are missing. The
  // mirror serves a valid gzip of the wrong content: the subset's labels.
  for (const std::string& name : all_names()) {
    if (name != kTrainLabels) {
      fs::copy_file(testing::tiny_mnist_dir() / (name + ".gz"), data.path() / (name + ".gz"));
    }
  }
  const std::set<std::string> before = listing(data.path());
  fs::copy_file(testing::tiny_mnist_dir() / "train-labels-idx1-ubyte.gz",
                mirror.path() / "train-labels-idx1-ubyte.gz");

  const std::string message = download_error(data.path(), from_mirrors({file_url(mirror.path())}));
  EXPECT_NE(message.find(kTrainLabels), std::string::npos) << message;
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
  EXPECT_NE(message.find("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            std::string::npos)
      << message;
  EXPECT_EQ(listing(data.path()), before);
}

TEST(Download, BrokenGzipIsRejected) {
  TempDir data;
  TempDir mirror;
  std::vector<std::uint8_t> truncated =
      gzip_bytes(idx_bytes({4}, std::vector<std::uint8_t>{1, 2, 3, 4}));
  truncated.resize(truncated.size() / 2);
  for (const std::string& name : all_names())
    write_bytes(mirror.path() / (name + ".gz"), truncated);

  const std::string message = download_error(data.path(), from_mirrors({file_url(mirror.path())}));
  EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_TRUE(listing(data.path()).empty());
}

TEST(Download, MirrorWithoutTheFilesIsNamedAndNothingIsLeft) {
  TempDir data;
  TempDir mirror;
  const std::string url = file_url(mirror.path());
  const std::string message = download_error(data.path(), from_mirrors({url}));
  EXPECT_NE(message.find(url), std::string::npos) << message;
  EXPECT_NE(message.find("train-images-idx3-ubyte.gz"), std::string::npos) << message;
  EXPECT_NE(message.find("--mirror"), std::string::npos) << message;
  EXPECT_TRUE(listing(data.path()).empty());
}

TEST(Download, EveryFailingMirrorIsListed) {
  TempDir data;
  TempDir empty_mirror;
  // Port 1 on the loopback interface: refused at once, no network needed.
  const std::string refused = "http://127.0.0.1:1/mnist/";
  const std::string empty = file_url(empty_mirror.path());
  const std::string message = download_error(data.path(), from_mirrors({refused, empty}));
  EXPECT_NE(message.find(refused), std::string::npos) << message;
  EXPECT_NE(message.find(empty), std::string::npos) << message;
  EXPECT_TRUE(listing(data.path()).empty());
}

TEST(Download, FallsBackToTheNextMirror) {
  if (!testing::has_full_mnist()) {
    GTEST_SKIP() << "the full MNIST is not at " << testing::full_mnist_dir().string();
  }
  TempDir data;
  TempDir bad_mirror;
  // The first mirror has every file, but its training labels are wrong.
  copy_mnist_gz(testing::full_mnist_dir(), bad_mirror.path());
  fs::copy_file(testing::tiny_mnist_dir() / "train-labels-idx1-ubyte.gz",
                bad_mirror.path() / "train-labels-idx1-ubyte.gz",
                fs::copy_options::overwrite_existing);

  const DownloadOptions options =
      from_mirrors({file_url(bad_mirror.path()), file_url(testing::full_mnist_dir())});
  EXPECT_EQ(ensure_mnist_files(data.path(), options), all_names());
  EXPECT_EQ(listing(data.path()), gz_names(all_names()));
  for (const VerifyResult& result : verify_mnist_files(data.path())) {
    EXPECT_EQ(result.check, FileCheck::kMatches) << result.name;
  }
}

TEST(Download, UncompressedFilesAreStoredUnderTheRawName) {
  if (!testing::has_full_mnist()) {
    GTEST_SKIP() << "the full MNIST is not at " << testing::full_mnist_dir().string();
  }
  TempDir data;
  TempDir mirror;
  for (const std::string& name : all_names()) {
    if (name != kTrainLabels) {
      fs::copy_file(testing::tiny_mnist_dir() / (name + ".gz"), data.path() / (name + ".gz"));
    }
  }
  // A mirror that serves the labels uncompressed under the .gz name.
  write_bytes(mirror.path() / "train-labels-idx1-ubyte.gz",
              gunzip_file(testing::full_mnist_dir() / "train-labels-idx1-ubyte.gz"));

  EXPECT_EQ(ensure_mnist_files(data.path(), from_mirrors({file_url(mirror.path())})),
            std::vector<std::string>{kTrainLabels});
  EXPECT_TRUE(fs::is_regular_file(data.path() / kTrainLabels));
  EXPECT_FALSE(fs::exists(data.path() / "train-labels-idx1-ubyte.gz"));
}

TEST(Download, CannotCreateTheDataFolder) {
  TempDir data;
  write_bytes(data.path() / "file", {1});
  const fs::path dir = data.path() / "file" / "mnist";
  const std::string message = download_error(dir, from_mirrors({"file:///nowhere/"}));
  EXPECT_NE(message.find(dir.string()), std::string::npos) << message;
  EXPECT_NE(message.find("--data-dir"), std::string::npos) << message;
}

TEST(Download, ExistingFilesAreLeftAloneAndNeverChecked) {
  TempDir data;
  for (const std::string& name : all_names()) {
    fs::copy_file(testing::tiny_mnist_dir() / (name + ".gz"), data.path() / (name + ".gz"));
  }
  const auto written = fs::last_write_time(data.path() / "train-images-idx3-ubyte.gz");
  // No mirror at all: any download attempt would throw.
  EXPECT_TRUE(ensure_mnist_files(data.path(), from_mirrors({})).empty());
  EXPECT_EQ(listing(data.path()), gz_names(all_names()));
  EXPECT_EQ(fs::last_write_time(data.path() / "train-images-idx3-ubyte.gz"), written);
}

TEST(DownloadStop, ATricklingTransferStopsWithinASecondAndLeavesNothing) {
  SlowServer server(SlowServer::Pace::kTrickle);
  expect_prompt_stop(server);
}

TEST(DownloadStop, AStalledTransferStopsWithinASecondToo) {
  // No bytes arrive after the first ones, so only the periodic check can notice the stop.
  SlowServer server(SlowServer::Pace::kStall);
  expect_prompt_stop(server);
}

TEST(DownloadStop, AStopBeforeTheFirstFileDownloadsNothing) {
  SlowServer server(SlowServer::Pace::kTrickle);
  TempDir data;
  DownloadOptions options = from_mirrors({server.url()});
  options.stop_requested = [] { return true; };
  EXPECT_THROW(ensure_mnist_files(data.path(), options), DownloadInterrupted);
  EXPECT_TRUE(listing(data.path()).empty());
  EXPECT_EQ(server.requests(), 0);
}

TEST(DownloadStop, DefaultsToTheInterruptFlag) {
  const DownloadOptions options;
  ASSERT_TRUE(options.stop_requested);
  EXPECT_EQ(options.stop_requested(), interrupt_requested());
}

TEST(Download, AFullDiskIsAnErrorNamingTheFileAndTheReason) {
  TempDir data;
  TempDir mirror;
  fs::copy_file(testing::tiny_mnist_dir() / "train-images-idx3-ubyte.gz",
                mirror.path() / "train-images-idx3-ubyte.gz");
  // The download's partial file leads to /dev/full, where every write fails with ENOSPC.
  const fs::path part =
      data.path() / ("train-images-idx3-ubyte.gz." + std::to_string(::getpid()) + ".part");
  fs::create_symlink("/dev/full", part);
  const std::string message = download_error(data.path(), from_mirrors({file_url(mirror.path())}));
  EXPECT_NE(message.find(part.string()), std::string::npos) << message;
  EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
  EXPECT_TRUE(listing(data.path()).empty());
}

TEST(Verify, ReportsSubsetFilesAsDifferingAndAbsentOnesAsMissing) {
  TempDir data;
  for (const std::string& name : all_names()) {
    if (name != kTrainLabels) {
      fs::copy_file(testing::tiny_mnist_dir() / (name + ".gz"), data.path() / (name + ".gz"));
    }
  }
  const std::vector<VerifyResult> results = verify_mnist_files(data.path());
  ASSERT_EQ(results.size(), 4u);
  for (const VerifyResult& result : results) {
    if (result.name == kTrainLabels) {
      EXPECT_EQ(result.check, FileCheck::kMissing);
      EXPECT_TRUE(result.path.empty());
      EXPECT_TRUE(result.sha256.empty());
    } else {
      EXPECT_EQ(result.check, FileCheck::kDiffers) << result.name;
      EXPECT_EQ(result.path, data.path() / (result.name + ".gz"));
      EXPECT_EQ(result.sha256.size(), 64u);
      EXPECT_TRUE(result.detail.empty()) << result.detail;
    }
  }
  EXPECT_STREQ(file_check_name(FileCheck::kMatches), "matches");
  EXPECT_STREQ(file_check_name(FileCheck::kDiffers), "differs");
  EXPECT_STREQ(file_check_name(FileCheck::kMissing), "missing");
}

TEST(Verify, HashesRawFilesAndReportsBrokenGzip) {
  TempDir data;
  const std::vector<std::uint8_t> labels = idx_bytes({3}, {1, 2, 3});
  write_bytes(data.path() / kTrainLabels, labels);
  std::vector<std::uint8_t> truncated = gzip_bytes(labels);
  truncated.resize(truncated.size() - 4);
  write_bytes(data.path() / "t10k-labels-idx1-ubyte.gz", truncated);

  for (const VerifyResult& result : verify_mnist_files(data.path())) {
    if (result.name == kTrainLabels) {
      EXPECT_EQ(result.check, FileCheck::kDiffers);
      EXPECT_EQ(result.sha256, sha256_hex(labels));
    } else if (result.name == "t10k-labels-idx1-ubyte") {
      EXPECT_EQ(result.check, FileCheck::kDiffers);
      EXPECT_NE(result.detail.find("truncated"), std::string::npos) << result.detail;
    } else {
      EXPECT_EQ(result.check, FileCheck::kMissing) << result.name;
    }
  }
}

}  // namespace
}  // namespace normtrain
