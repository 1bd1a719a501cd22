#include "normtrain/file_io.hpp"

#include <fstream>

#include <fmt/format.h>

#include "normtrain/error.hpp"

namespace normtrain {

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      throw RuntimeError(
          fmt::format("cannot write {}: check free space and permissions", temporary.string()));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw RuntimeError(fmt::format("cannot replace {}: {}", path.string(), error.message()));
  }
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
  {
    std::ofstream out(probe);
    out << "ok";
    if (!out) {
      throw RuntimeError(fmt::format(
          "{} {}: the folder is not writable; fix its permissions or choose another with {}", flag,
          dir.string(), flag));
    }
  }
  std::filesystem::remove(probe, error);
}

}  // namespace normtrain
