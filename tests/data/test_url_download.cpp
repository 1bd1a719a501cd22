#include "normtrain/data/url_download.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "slow_server.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::SlowServer;
using testing::TempDir;
using testing::write_bytes;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string file_url(const fs::path& path) {
  return "file://" + fs::weakly_canonical(path).string();
}

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  const std::string text = testing::read_text(path);
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

// The reason of the SourceFailure that downloading `url` throws.
std::string source_failure(const std::string& url, const fs::path& destination,
                           const UrlDownloadOptions& options = {}) {
  try {
    download_url(url, destination, "x.gz", options);
  } catch (const SourceFailure& failure) {
    EXPECT_FALSE(failure.reason.empty());
    return failure.reason;
  }
  ADD_FAILURE() << "the download of " << url << " succeeded";
  return {};
}

TEST(UrlDownload, FetchesAFileUrlAndReportsProgressUnderItsLabel) {
  TempDir source;
  TempDir data;
  std::vector<std::uint8_t> bytes(300000);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);
  write_bytes(source.path() / "x.gz", bytes);
  write_bytes(data.path() / "out", {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9});

  UrlDownloadOptions options;
  std::string label;
  std::uint64_t last_done = 0;
  std::uint64_t last_total = 0;
  options.on_progress = [&](const std::string& name, std::uint64_t done, std::uint64_t total) {
    label = name;
    last_done = done;
    last_total = total;
  };
  download_url(file_url(source.path() / "x.gz"), data.path() / "out", "x.gz", options);
  EXPECT_EQ(read_bytes(data.path() / "out"), bytes);  // replaced, not appended to
  EXPECT_EQ(label, "x.gz");
  EXPECT_EQ(last_done, bytes.size());
  EXPECT_EQ(last_total, bytes.size());
}

TEST(UrlDownload, WhatTheSourceGetsWrongIsASourceFailure) {
  TempDir source;
  TempDir data;
  EXPECT_NE(source_failure(file_url(source.path()) + "/absent.gz", data.path() / "out"), "");
  // Port 1 on the loopback interface: refused at once, no network needed.
  EXPECT_NE(source_failure("http://127.0.0.1:1/x.gz", data.path() / "out"), "");
  // Only http, https and file are spoken.
  EXPECT_NE(source_failure("ftp://127.0.0.1:1/x.gz", data.path() / "out"), "");
}

TEST(UrlDownload, AFileOverTheLimitIsASourceFailure) {
  // The server announces 50 MB and then stalls: only the limit can end the transfer at once.
  SlowServer server(SlowServer::Pace::kStall);
  TempDir data;
  UrlDownloadOptions options;
  options.max_bytes = 1000;
  const Clock::time_point started = Clock::now();
  source_failure(server.url() + "x.gz", data.path() / "out", options);
  EXPECT_LT(Clock::now() - started, 5s);
}

TEST(UrlDownload, AFullDiskIsARuntimeErrorNamingTheDestination) {
  TempDir source;
  TempDir data;
  write_bytes(source.path() / "x.gz", std::vector<std::uint8_t>(1000, 1));
  // The destination leads to /dev/full, where every write fails with ENOSPC.
  const fs::path destination = data.path() / "out";
  fs::create_symlink("/dev/full", destination);
  try {
    download_url(file_url(source.path() / "x.gz"), destination, "x.gz", {});
    FAIL() << "wrote to /dev/full";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(error.what()).find(destination.string()), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("No space left on device"), std::string::npos)
        << error.what();
  }
}

TEST(UrlDownload, AnExceptionFromTheProgressCallbackComesThrough) {
  TempDir source;
  TempDir data;
  write_bytes(source.path() / "x.gz", std::vector<std::uint8_t>(1000, 1));
  UrlDownloadOptions options;
  options.on_progress = [](const std::string&, std::uint64_t, std::uint64_t) {
    throw std::logic_error("from the callback");
  };
  EXPECT_THROW(download_url(file_url(source.path() / "x.gz"), data.path() / "out", "x.gz", options),
               std::logic_error);
}

// Stops a download from `server` once it is receiving and checks that it ends within a second
// with DownloadInterrupted naming the label, and that a TemporaryFile leaves nothing behind.
void expect_prompt_stop(SlowServer::Pace pace) {
  SlowServer server(pace);
  TempDir data;
  std::atomic<bool> stop{false};
  std::atomic<bool> receiving{false};
  UrlDownloadOptions options;
  options.stop_requested = [&] { return stop.load(); };
  options.on_progress = [&](const std::string&, std::uint64_t done, std::uint64_t) {
    if (done > 0) receiving = true;
  };
  Clock::time_point stopped_at{};
  std::thread stopper([&] {
    const Clock::time_point give_up = Clock::now() + 10s;
    while (!receiving && Clock::now() < give_up) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(300ms);
    stopped_at = Clock::now();
    stop = true;
  });
  std::string message;
  {
    TemporaryFile partial(data.path() / "x.gz.part");
    try {
      download_url(server.url() + "x.gz", partial.path(), "x.gz", options);
      ADD_FAILURE() << "the download finished";
    } catch (const DownloadInterrupted& error) {
      message = error.what();
    }
    EXPECT_GT(fs::file_size(partial.path()), 0u);
  }
  const Clock::time_point returned = Clock::now();
  stopper.join();
  EXPECT_LT(returned - stopped_at, 1s)
      << std::chrono::duration_cast<std::chrono::milliseconds>(returned - stopped_at).count()
      << " ms";
  EXPECT_EQ(message, "interrupted while downloading x.gz; the partial file was removed");
  EXPECT_TRUE(fs::is_empty(data.path()));
}

TEST(UrlDownloadStop, ATricklingTransferStopsWithinASecond) {
  expect_prompt_stop(SlowServer::Pace::kTrickle);
}

TEST(UrlDownloadStop, AStalledTransferStopsWithinASecondToo) {
  // No bytes arrive after the first ones, so only the periodic check can notice the stop.
  expect_prompt_stop(SlowServer::Pace::kStall);
}

TEST(UrlDownloadStop, WithoutAStopCheckNothingStops) {
  TempDir source;
  TempDir data;
  write_bytes(source.path() / "x.gz", {1, 2, 3});
  UrlDownloadOptions options;
  ASSERT_FALSE(options.stop_requested);
  EXPECT_NO_THROW(
      download_url(file_url(source.path() / "x.gz"), data.path() / "out", "x.gz", options));
}

TEST(TemporaryFile, RemovesTheFileUnlessReleased) {
  TempDir data;
  {
    TemporaryFile removed(data.path() / "a");
    write_bytes(removed.path(), {1});
  }
  EXPECT_FALSE(fs::exists(data.path() / "a"));
  {
    TemporaryFile kept(data.path() / "b");
    write_bytes(kept.path(), {1});
    kept.release();
    EXPECT_TRUE(kept.path().empty());
  }
  EXPECT_TRUE(fs::exists(data.path() / "b"));
  // Never created: nothing to do.
  EXPECT_NO_THROW(TemporaryFile(data.path() / "c"));
}

}  // namespace
}  // namespace normtrain
