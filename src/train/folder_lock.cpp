#include "normtrain/train/folder_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// The pid the current holder wrote, or "unknown" when the file is empty or unreadable.
std::string holder_pid(int fd) {
  char buffer[32] = {};
  const ssize_t got = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string pid(buffer, got > 0 ? static_cast<std::size_t>(got) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

FolderLock::FolderLock(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kFileName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw RuntimeError(fmt::format("cannot lock {}: cannot open {} ({})", dir.string(),
                                   path.string(), std::strerror(errno)));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string pid = holder_pid(fd_);
    ::close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) {
      throw RuntimeError(fmt::format(
          "{} is in use by another normtrain (pid {}); wait for it to finish or stop it, or "
          "choose another --out",
          dir.string(), pid));
    }
    throw RuntimeError(fmt::format("cannot lock {} ({})", path.string(), std::strerror(error)));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  // The pid is for messages only; the lock holds whether or not it could be written.
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

FolderLock::~FolderLock() {
  // Closing the descriptor releases the lock. The file stays: unlinking it would let a
  // third process lock a new file while a second one still waits on the old one.
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace normtrain
