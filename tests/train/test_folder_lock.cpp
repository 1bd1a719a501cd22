#include "normtrain/train/folder_lock.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::TempDir;

std::string lock_error(const std::filesystem::path& dir) {
  try {
    FolderLock lock(dir);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    return error.what();
  }
  return {};
}

TEST(FolderLock, ASecondLockOnTheSameFolderFailsNamingTheHolder) {
  TempDir temp;
  {
    const FolderLock first(temp.path());
    const std::string message = lock_error(temp.path());
    EXPECT_NE(message.find(temp.path().string() + " is in use by another normtrain (pid " +
                           std::to_string(::getpid()) + ")"),
              std::string::npos)
        << message;
  }
  // Released with its owner.
  EXPECT_EQ(lock_error(temp.path()), "");
}

TEST(FolderLock, ReleasedByTheKernelWhenTheHolderIsKilled) {
  TempDir temp;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const FolderLock lock(temp.path());
    const char byte = 1;
    [[maybe_unused]] const ssize_t written = ::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_NE(lock_error(temp.path()).find("pid " + std::to_string(child)), std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(lock_error(temp.path()), "");
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(FolderLock, AMissingFolderIsARuntimeErrorNamingIt) {
  TempDir temp;
  EXPECT_NE(lock_error(temp.path() / "absent").find("absent"), std::string::npos);
}

}  // namespace
}  // namespace normtrain
