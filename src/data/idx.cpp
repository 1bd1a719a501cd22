#include "normtrain/data/idx.hpp"

#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <zlib.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// IDX type code 0x08: one unsigned byte per value, the only type MNIST-style data uses.
constexpr std::uint8_t kUnsignedByteType = 0x08;
// No IDX file this tool reads has more than three dimensions; allowing a few more costs nothing.
constexpr int kMaxDims = 4;
// Refuse payloads over 4 GiB outright: far beyond any data set this network could use.
constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t{1} << 32;

bool is_gzip(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<std::uint8_t> read_whole_file(const std::filesystem::path& path) {
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  if (!size_error && size > kMaxPayloadBytes) {
    throw RuntimeError(
        fmt::format("{} is {} bytes, more than any IDX data set this tool can use "
                    "(4 GiB); check --data-dir",
                    path.string(), size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw RuntimeError(
        fmt::format("cannot open {}: check that it exists and is readable", path.string()));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) throw RuntimeError(fmt::format("cannot read {}", path.string()));
  return bytes;
}

// Decompresses at most `limit` bytes of a gzip stream (several members allowed). Output grows
// only as real data arrives, so a header's claims cannot make it allocate.
struct Inflated {
  std::vector<std::uint8_t> bytes;
};

Inflated gunzip(const std::vector<std::uint8_t>& in, std::size_t limit, const std::string& name) {
  z_stream stream{};
  // 15 window bits + 32: let zlib detect the gzip header.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) {
    throw RuntimeError(fmt::format("cannot start gzip decompression of {}", name));
  }
  Inflated out;
  stream.next_in = const_cast<Bytef*>(in.data());
  stream.avail_in = static_cast<uInt>(in.size());
  constexpr std::size_t kChunk = 1 << 20;
  int status = Z_OK;
  while (out.bytes.size() < limit) {
    const std::size_t old_size = out.bytes.size();
    const std::size_t grow = std::min(kChunk, limit - old_size);
    out.bytes.resize(old_size + grow);
    stream.next_out = out.bytes.data() + old_size;
    stream.avail_out = static_cast<uInt>(grow);
    status = inflate(&stream, Z_NO_FLUSH);
    out.bytes.resize(old_size + (grow - stream.avail_out));
    if (status == Z_STREAM_END) {
      // Another gzip member may follow (concatenated .gz files are valid).
      if (stream.avail_in == 0) break;
      if (inflateReset(&stream) != Z_OK) break;
      continue;
    }
    if (status != Z_OK && !(status == Z_BUF_ERROR && stream.avail_out == 0)) {
      inflateEnd(&stream);
      throw RuntimeError(fmt::format(
          "{} is not a valid gzip stream ({}): download it again or decompress it with gunzip",
          name, stream.msg != nullptr ? stream.msg : "truncated or corrupt data"));
    }
    if (stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      throw RuntimeError(fmt::format(
          "{} ends in the middle of its gzip stream: the file is truncated; download it again",
          name));
    }
  }
  inflateEnd(&stream);
  return out;
}

std::uint32_t read_big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

struct IdxHeader {
  std::vector<std::int64_t> dims;
  std::size_t header_bytes = 0;
  std::uint64_t payload_bytes = 0;
};

// Parses the magic and dimensions; needs only the first 4 + 4 * ndims bytes.
IdxHeader parse_header(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size < 4) {
    throw RuntimeError(fmt::format("{} is {} bytes long, too short for an IDX header{}", name, size,
                                   size == 0 ? " (the file is empty)" : ""));
  }
  if (data[0] != 0 || data[1] != 0 || data[2] != kUnsignedByteType || data[3] == 0 ||
      data[3] > kMaxDims) {
    throw RuntimeError(fmt::format(
        "{} is not an IDX file of unsigned bytes (magic 0x{:02x}{:02x}{:02x}{:02x}; MNIST images "
        "have 0x00000803 and labels 0x00000801)",
        name, data[0], data[1], data[2], data[3]));
  }
  IdxHeader header;
  const int ndims = data[3];
  header.header_bytes = 4 + 4 * static_cast<std::size_t>(ndims);
  if (size < header.header_bytes) {
    throw RuntimeError(fmt::format("{} ends inside its IDX header ({} of {} bytes)", name, size,
                                   header.header_bytes));
  }
  std::uint64_t payload = 1;
  for (int d = 0; d < ndims; ++d) {
    const std::uint32_t extent = read_big_endian_u32(data + 4 + 4 * d);
    header.dims.push_back(extent);
    // Saturate instead of overflowing: anything past the cap is rejected below.
    payload = extent == 0 ? 0 : std::min<std::uint64_t>(payload * extent, kMaxPayloadBytes + 1);
  }
  if (payload > kMaxPayloadBytes) {
    throw RuntimeError(
        fmt::format("{} claims more than 4 GiB of data in its header; it is not a "
                    "data set this tool can use",
                    name));
  }
  header.payload_bytes = payload;
  return header;
}

std::string describe_dims(const std::vector<std::int64_t>& dims) {
  return fmt::format("{}", fmt::join(dims, "x"));
}

IdxArray take_payload(const IdxHeader& header, const std::uint8_t* data, std::size_t size,
                      const std::string& name) {
  const std::uint64_t available = size - header.header_bytes;
  if (available != header.payload_bytes) {
    throw RuntimeError(fmt::format(
        "{}: its header announces {} values ({}) but the file holds {}{}; the file is {}", name,
        header.payload_bytes, describe_dims(header.dims), available,
        available > header.payload_bytes ? " or more" : "",
        available < header.payload_bytes ? "truncated" : "longer than its header says"));
  }
  IdxArray array;
  array.dims = header.dims;
  array.values.assign(data + header.header_bytes, data + size);
  return array;
}

}  // namespace

IdxArray parse_idx(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const IdxHeader header = parse_header(data, size, name);
  return take_payload(header, data, size, name);
}

IdxArray read_idx_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (!is_gzip(bytes)) return parse_idx(bytes.data(), bytes.size(), name);

  // Inflate just the header first, so that the payload can be capped at what it announces.
  const Inflated head = gunzip(bytes, 4 + 4 * kMaxDims, name);
  const IdxHeader header = parse_header(head.bytes.data(), head.bytes.size(), name);
  // One byte past the announced size tells "longer than the header says" without reading it all.
  const Inflated whole = gunzip(bytes, header.header_bytes + header.payload_bytes + 1, name);
  return take_payload(header, whole.bytes.data(), whole.bytes.size(), name);
}

IdxArray read_idx_file(const std::filesystem::path& path) {
  return read_idx_bytes(read_whole_file(path), path.string());
}

}  // namespace normtrain
