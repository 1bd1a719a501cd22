#include "normtrain/data/content_digest.hpp"

#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/sha256.hpp"

namespace normtrain {
namespace {

// Read and inflate files in pieces of this size.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

}  // namespace

// Streams the file through zlib and SHA-256: memory use stays at two chunks whatever the file
// holds, and at most `limit` decompressed bytes are hashed, so a gzip bomb costs nothing.
ContentDigest digest_content(const std::filesystem::path& path, std::uint64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw RuntimeError(
        fmt::format("cannot open {}: check that it exists and is readable", path.string()));
  }
  std::vector<std::uint8_t> input(kChunkBytes);
  const auto read_chunk = [&]() -> std::size_t {
    in.read(reinterpret_cast<char*>(input.data()), static_cast<std::streamsize>(input.size()));
    if (in.bad()) throw RuntimeError(fmt::format("cannot read {}", path.string()));
    return static_cast<std::size_t>(in.gcount());
  };

  ContentDigest digest;
  Sha256 hash;
  // Returns false once the content runs past the limit.
  const auto consume = [&](const std::uint8_t* data, std::size_t size) {
    if (size > limit - digest.size) {
      digest.over_limit = true;
      return false;
    }
    hash.update(data, size);
    digest.size += size;
    return true;
  };

  std::size_t got = read_chunk();
  const bool gzip = got >= 2 && input[0] == 0x1f && input[1] == 0x8b;
  if (!gzip) {
    while (got > 0 && consume(input.data(), got)) got = read_chunk();
    digest.sha256 = hash.hex_digest();
    return digest;
  }

  z_stream stream{};
  // 15 window bits + 32: let zlib detect the gzip header.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) {
    throw RuntimeError(fmt::format("cannot start gzip decompression of {}", path.string()));
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end_stream(&stream, inflateEnd);
  std::vector<std::uint8_t> output(kChunkBytes);
  stream.next_in = input.data();
  stream.avail_in = static_cast<uInt>(got);
  bool member_ended = false;
  while (true) {
    if (stream.avail_in == 0) {
      got = read_chunk();
      if (got == 0) break;
      stream.next_in = input.data();
      stream.avail_in = static_cast<uInt>(got);
    }
    if (member_ended) {
      // Another gzip member follows (concatenated .gz files are valid).
      inflateReset(&stream);
      member_ended = false;
    }
    do {
      stream.next_out = output.data();
      stream.avail_out = static_cast<uInt>(output.size());
      const int status = inflate(&stream, Z_NO_FLUSH);
      if (!consume(output.data(), output.size() - stream.avail_out)) return digest;
      if (status == Z_STREAM_END) {
        member_ended = true;
        break;
      }
      if (status == Z_BUF_ERROR && stream.avail_in == 0) break;
      if (status != Z_OK) {
        digest.problem = fmt::format("not a valid gzip stream ({})",
                                     stream.msg != nullptr ? stream.msg : "corrupt data");
        return digest;
      }
    } while (stream.avail_in > 0 || stream.avail_out == 0);
  }
  if (!member_ended) {
    digest.problem = "the gzip stream ends early: the file is truncated";
    return digest;
  }
  digest.sha256 = hash.hex_digest();
  return digest;
}

bool is_gzip_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {};
  in.read(magic, 2);
  return in.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
         static_cast<unsigned char>(magic[1]) == 0x8b;
}

}  // namespace normtrain
