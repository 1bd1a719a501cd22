#include "normtrain/data/mnist_download.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>
#include <zlib.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/sha256.hpp"
#include "slow_server.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::gzip_bytes;
using testing::idx_bytes;
using testing::SlowServer;
using testing::TempDir;
using testing::write_bytes;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";

std::string directory_url(const fs::path& dir) {
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

TEST(Download, FetchesAllFourFilesFromAFileMirror) {
  if (!testing::has_full_mnist()) {
    GTEST_SKIP() << "the full MNIST is not at " << testing::full_mnist_dir().string();
  }
  TempDir data;
  const fs::path dir = data.path() / "nested" / "mnist";  // created on demand
  std::string mirror = directory_url(testing::full_mnist_dir());
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

  const std::string message =
      download_error(data.path(), from_mirrors({directory_url(mirror.path())}));
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

  const std::string message =
      download_error(data.path(), from_mirrors({directory_url(mirror.path())}));
  EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_TRUE(listing(data.path()).empty());
}

TEST(Download, MirrorWithoutTheFilesIsNamedAndNothingIsLeft) {
  TempDir data;
  TempDir mirror;
  const std::string url = directory_url(mirror.path());
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
  const std::string empty = directory_url(empty_mirror.path());
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
      from_mirrors({directory_url(bad_mirror.path()), directory_url(testing::full_mnist_dir())});
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

  EXPECT_EQ(ensure_mnist_files(data.path(), from_mirrors({directory_url(mirror.path())})),
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
  const std::string message =
      download_error(data.path(), from_mirrors({directory_url(mirror.path())}));
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
