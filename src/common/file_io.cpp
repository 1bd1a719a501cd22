#include "normtrain/common/file_io.hpp"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// The system's words for an errno value, e.g. "No space left on device".
std::string reason(int error_number) {
  return std::generic_category().message(error_number);
}

Error write_error(const std::filesystem::path& path, int error_number) {
  return RuntimeError(fmt::format("cannot write {}: {}", path.string(), reason(error_number)));
}

int open_for_writing(const std::filesystem::path& path, OutputFile::Mode mode) {
  const int flags =
      O_WRONLY | O_CREAT | O_CLOEXEC | (mode == OutputFile::Mode::kAppend ? O_APPEND : O_TRUNC);
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Writes all of `data` to `fd`; returns 0 or the errno of the failure.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (written == 0) return EIO;  // a regular file never accepts nothing; do not spin
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return 0;
}

// fsync, with "cannot be synced" (a pipe, a device) not counted as a failure.
int sync_fd(int fd) {
  if (::fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP || errno == EROFS) return 0;
  return errno;
}

// close, whose failure (NFS, quotas) can be the first sign that data was lost. Not retried on
// EINTR: Linux has released the descriptor by then.
int close_fd(int fd) {
  return ::close(fd) == 0 || errno == EINTR ? 0 : errno;
}

}  // namespace

OutputFile::OutputFile(std::filesystem::path path, Mode mode)
    : path_(std::move(path)), fd_(open_for_writing(path_, mode)) {
  if (fd_ < 0) throw write_error(path_, errno);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

void OutputFile::write(std::string_view data) {
  struct stat before {};
  const bool known_size = ::fstat(fd_, &before) == 0 && S_ISREG(before.st_mode);
  const int error_number = write_all(fd_, data);
  if (error_number == 0) return;
  if (known_size) {
    // Best effort: should this fail too, the write error below is still what the person needs.
    [[maybe_unused]] const int cut = ::ftruncate(fd_, before.st_size);
    ::lseek(fd_, before.st_size, SEEK_SET);
  }
  throw write_error(path_, error_number);
}

void OutputFile::sync() {
  if (const int error_number = sync_fd(fd_); error_number != 0) {
    throw write_error(path_, error_number);
  }
  struct stat status {};
  if (::fstat(fd_, &status) == 0 && S_ISREG(status.st_mode) && status.st_nlink == 0) {
    throw RuntimeError(fmt::format(
        "cannot write {}: {} (the file or its folder was deleted while the run was writing it)",
        path_.string(), reason(ENOENT)));
  }
}

void OutputFile::close() {
  if (fd_ < 0) return;
  const int error_number = close_fd(std::exchange(fd_, -1));
  if (error_number != 0) throw write_error(path_, error_number);
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  const auto fail = [&](int error_number) {
    ::unlink(temporary.c_str());
    throw write_error(path, error_number);
  };
  const int fd = open_for_writing(temporary, OutputFile::Mode::kTruncate);
  if (fd < 0) fail(errno);
  int error_number = write_all(fd, content);
  if (error_number == 0) error_number = sync_fd(fd);
  const int close_error = close_fd(fd);
  if (error_number == 0) error_number = close_error;
  if (error_number != 0) fail(error_number);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int rename_error = errno;
    ::unlink(temporary.c_str());
    throw RuntimeError(fmt::format("cannot replace {} with {}: {}", path.string(),
                                   temporary.string(), reason(rename_error)));
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw RuntimeError(fmt::format("cannot read {}", path.string()));
  return text.str();
}

void ensure_writable_dir(const std::filesystem::path& dir, const std::string& flag) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    throw RuntimeError(fmt::format("{} {}: cannot create the folder ({}); choose another with {}",
                                   flag, dir.string(),
                                   error ? error.message() : "a file of that name exists", flag));
  }
  const std::filesystem::path probe = dir / ".normtrain-write-test";
  const int fd = open_for_writing(probe, OutputFile::Mode::kTruncate);
  int error_number = fd < 0 ? errno : write_all(fd, "ok");
  if (fd >= 0) {
    const int close_error = close_fd(fd);
    if (error_number == 0) error_number = close_error;
    ::unlink(probe.c_str());
  }
  if (error_number != 0) {
    throw RuntimeError(
        fmt::format("{} {}: the folder is not writable ({}); free space, fix its permissions or "
                    "choose another with {}",
                    flag, dir.string(), reason(error_number), flag));
  }
}

}  // namespace normtrain
