#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace normtrain {

// A file written with the system's own calls, so that every failure is seen where it happens:
// each failed open, write, sync or close throws a runtime Error naming the file and giving the
// system's reason ("No space left on device"). Nothing is buffered: what write() accepted is in
// the operating system's hands when it returns.
class OutputFile {
 public:
  enum class Mode { kTruncate, kAppend };

  OutputFile(std::filesystem::path path, Mode mode);
  ~OutputFile();
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes all of `data`. When that fails part-way the file is cut back to its previous length,
  // so that a CSV row is on disk whole or not at all.
  void write(std::string_view data);
  // Makes what was written durable (fsync), and throws when the file has been deleted since it
  // was opened (its folder removed mid-run): writes to it would be lost without an error.
  void sync();
  // Closes the file, checking the result; the destructor closes without checking.
  void close();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Writes `content` to a temporary file beside `path`, makes it durable and renames it over
// `path`, so that a reader (or a crash) sees the old file or the new one, never half of one.
// Throws a runtime Error naming `path` and the system's reason; a failed write leaves the old
// file and no temporary behind.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// Creates `dir` if needed and proves it writable with a probe file. Throws a runtime Error
// naming the folder and `flag` otherwise, so that a run fails before training, not after.
void ensure_writable_dir(const std::filesystem::path& dir, const std::string& flag);

// The whole content of a (small) file. Throws a runtime Error "cannot read PATH" when it
// cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace normtrain
