#pragma once

#include <filesystem>

namespace normtrain {

// One writer per run folder: an exclusive flock(2) on a lock file inside the folder, held for
// the owner's lifetime. The kernel releases it when the process ends, kill -9 included, so a
// crashed run never leaves a stale lock. The file keeps the holder's pid for the message a
// second process gets.
class FolderLock {
 public:
  // The lock file's name inside a locked folder; it stays there between runs.
  static constexpr const char* kFileName = ".normtrain.lock";

  // Locks `dir` (which must exist) or throws a runtime Error: "DIR is in use by another
  // normtrain (pid N)", or why the lock file cannot be opened.
  explicit FolderLock(const std::filesystem::path& dir);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace normtrain
