#include "normtrain/commands/sweep/subprocess.hpp"

#include <csignal>
#include <string>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;

TEST(SweepSubprocess, RunCommandCollectsBothStreamsAndTheExitCode) {
  const CommandResult result =
      run_command({"sh", "-c", "echo out; echo err >&2; read line || echo no-input; exit 4"});
  EXPECT_EQ(result.out, "out\nno-input\n");
  EXPECT_EQ(result.err, "err\n");
  EXPECT_EQ(result.status.code, 4);
  EXPECT_EQ(result.status.signal, 0);
  EXPECT_THROW(run_command({"no-such-command-for-normtrain"}), Error);
  EXPECT_TRUE(on_path("sh"));
  EXPECT_FALSE(on_path("no-such-command-for-normtrain"));
}

TEST(SweepSubprocess, SpawnAppendsOutputAndReapsTheExitStatus) {
  TempDir temp;
  SpawnOptions options;
  options.output = temp.path() / "log";
  ExitStatus status;
  reap(spawn("/bin/sh", {"sh", "-c", "echo one; echo two >&2"}, options), true, status);
  reap(spawn("/bin/sh", {"sh", "-c", "echo three; kill -TERM $$"}, options), true, status);
  EXPECT_EQ(read_text(temp.path() / "log"), "one\ntwo\nthree\n");
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_EQ(status.code, 128 + SIGTERM);
  EXPECT_THROW(spawn(temp.path() / "missing", {"missing"}, options), Error);
}

TEST(SweepSubprocess, ShellQuoting) {
  EXPECT_EQ(shell_quote("--lr=0.05"), "--lr=0.05");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_words({"normtrain", "--out", "runs/my sweep"}),
            "normtrain --out 'runs/my sweep'");
}

}  // namespace
}  // namespace normtrain
