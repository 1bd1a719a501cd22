#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace normtrain {

// The contents of an IDX file of unsigned bytes: its dimensions and its values, row-major.
struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> values;
};

// Reads an IDX file of unsigned bytes, gzip-compressed or raw (told apart by its first bytes,
// not its name). Throws a runtime Error naming the file for anything malformed: bad magic, a
// payload shorter or longer than the header says, a broken gzip stream. Never allocates more
// than the file actually backs, whatever its header claims.
IdxArray read_idx_file(const std::filesystem::path& path);

// What read_idx_file does once the file is read: the same gzip detection, capped
// decompression and checks, on bytes already in memory; `name` is used in error messages.
IdxArray read_idx_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Parses raw (not compressed) IDX bytes already in memory; `name` is used in error messages.
IdxArray parse_idx(const std::uint8_t* data, std::size_t size, const std::string& name);

}  // namespace normtrain
