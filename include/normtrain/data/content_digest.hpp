#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace normtrain {

// The SHA-256 and size of a file's content, decompressed first if it is gzip.
struct ContentDigest {
  std::string sha256;
  std::uint64_t size = 0;
  // More than the limit was there; `sha256` and `size` then cover only part of it.
  bool over_limit = false;
  // Why the gzip stream could not be read (truncated, corrupt); empty when it could.
  std::string problem;
};

// The digest of the file at `path`, decompressed first when it starts with gzip's magic bytes
// (concatenated members included). At most `limit` decompressed bytes are hashed (see
// `over_limit`); a bad gzip stream is reported in `problem`. Throws a runtime Error when the file
// cannot be opened or read.
ContentDigest digest_content(const std::filesystem::path& path,
                             std::uint64_t limit = std::numeric_limits<std::uint64_t>::max());

// Whether the file at `path` starts with gzip's magic bytes; false when it cannot be read.
bool is_gzip_file(const std::filesystem::path& path);

}  // namespace normtrain
