#include "normtrain/commands/sweep/local_runner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/file_io.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;

// A stand-in for normtrain that does what its first argument says.
std::filesystem::path write_scripted_program(const std::filesystem::path& dir) {
  const std::filesystem::path program = dir / "fake-normtrain";
  write_file_atomically(program, R"SH(#!/bin/sh
marker="$2"
case "$1" in
  ok) echo "ran $*"; exit 0 ;;
  diverge) exit 3 ;;
  fail) echo "broken" >&2; exit 1 ;;
  crowd)
    : > "$marker.running"
    sleep 0.5
    echo "at once: $(ls "$(dirname "$marker")" | grep -c '\.running$')"
    rm "$marker.running" ;;
  wait)
    trap 'echo "stopped by a signal"; exit 130' INT TERM
    : > "$marker"
    while :; do sleep 0.05; done ;;
esac
)SH");
  ::chmod(program.c_str(), 0755);
  return program;
}

LocalJob job(const TempDir& temp, const std::string& what, const std::string& name) {
  return {{"normtrain", what, (temp.path() / name).string()}, temp.path() / (name + ".log")};
}

TEST(SweepLocalRunner, ExitStatusesAreCompletedDivergedFailed) {
  TempDir temp;
  const std::filesystem::path program = write_scripted_program(temp.path());
  const std::vector<LocalJob> jobs = {job(temp, "ok", "a"), job(temp, "diverge", "b"),
                                      job(temp, "fail", "c")};
  std::vector<std::string> events;
  JobEvents hooks;
  hooks.starting = [&](std::size_t i) {
    events.push_back("start " + std::to_string(i));
    return std::string();
  };
  hooks.ended = [&](std::size_t i, const JobResult&) {
    events.push_back("end " + std::to_string(i));
  };
  const PoolResult result = run_pool(program, jobs, 1, hooks);
  EXPECT_FALSE(result.interrupted);
  ASSERT_EQ(result.jobs.size(), 3u);
  EXPECT_EQ(result.jobs[0].end, JobEnd::kCompleted);
  EXPECT_EQ(result.jobs[1].end, JobEnd::kDiverged);
  EXPECT_EQ(result.jobs[2].end, JobEnd::kFailed);
  EXPECT_EQ(result.jobs[2].status.code, 1);
  EXPECT_EQ(events,
            (std::vector<std::string>{"start 0", "end 0", "start 1", "end 1", "start 2", "end 2"}));
  EXPECT_EQ(read_text(temp.path() / "a.log"), "ran ok " + (temp.path() / "a").string() + "\n");
  EXPECT_EQ(read_text(temp.path() / "c.log"), "broken\n");
}

TEST(SweepLocalRunner, RunsAtMostNAtATime) {
  TempDir temp;
  const std::filesystem::path program = write_scripted_program(temp.path());
  std::filesystem::create_directories(temp.path() / "m");
  std::vector<LocalJob> jobs;
  for (int i = 0; i < 5; ++i) jobs.push_back(job(temp, "crowd", "m/" + std::to_string(i)));
  const PoolResult result = run_pool(program, jobs, 2, {});
  int most = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(result.jobs[static_cast<std::size_t>(i)].end, JobEnd::kCompleted);
    const std::string log = read_text(temp.path() / ("m/" + std::to_string(i) + ".log"));
    most = std::max(most, std::stoi(log.substr(log.find(':') + 1)));
  }
  // Each job counts the jobs running while it sleeps: two side by side, never three.
  EXPECT_EQ(most, 2);
}

TEST(SweepLocalRunner, AJobThatCannotStartFails) {
  TempDir temp;
  const std::filesystem::path program = write_scripted_program(temp.path());
  JobEvents hooks;
  hooks.starting = [](std::size_t i) { return i == 0 ? std::string("no folder") : std::string(); };
  const PoolResult result =
      run_pool(program, {job(temp, "ok", "a"), job(temp, "ok", "b")}, 1, hooks);
  EXPECT_EQ(result.jobs[0].end, JobEnd::kFailed);
  EXPECT_EQ(result.jobs[0].error, "no folder");
  EXPECT_EQ(result.jobs[1].end, JobEnd::kCompleted);
  const PoolResult missing =
      run_pool(temp.path() / "no-such-program", {job(temp, "ok", "c")}, 1, {});
  EXPECT_EQ(missing.jobs[0].end, JobEnd::kFailed);
  EXPECT_NE(missing.jobs[0].error.find("cannot start"), std::string::npos);
}

TEST(SweepLocalRunner, SigintIsPassedOnAndStartsNoMoreJobs) {
  TempDir temp;
  const std::filesystem::path program = write_scripted_program(temp.path());
  const std::vector<LocalJob> jobs = {job(temp, "wait", "a"), job(temp, "wait", "b"),
                                      job(temp, "ok", "c")};
  // Ctrl-C once both waiting jobs run; they are in process groups of their own, so only the
  // pool's passing it on reaches them.
  std::thread interrupter([&] {
    for (int i = 0; i < 500; ++i) {
      if (std::filesystem::exists(temp.path() / "a") &&
          std::filesystem::exists(temp.path() / "b")) {
        ::kill(::getpid(), SIGINT);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const PoolResult result = run_pool(program, jobs, 2, {});
  interrupter.join();
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.jobs[0].end, JobEnd::kStopped);
  EXPECT_EQ(result.jobs[1].end, JobEnd::kStopped);
  EXPECT_EQ(result.jobs[2].end, JobEnd::kNotStarted);
  EXPECT_EQ(read_text(temp.path() / "a.log"), "stopped by a signal\n");
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "c.log"));
}

}  // namespace
}  // namespace normtrain
