#pragma once

#include <filesystem>
#include <string>

namespace normtrain {

// Writes `content` to a temporary file beside `path` and renames it over `path`, so that a
// reader (or a crash) sees the old file or the new one, never half of one.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// Creates `dir` if needed and proves it writable with a probe file. Throws a runtime Error
// naming the folder and `flag` otherwise, so that a run fails before training, not after.
void ensure_writable_dir(const std::filesystem::path& dir, const std::string& flag);

}  // namespace normtrain
