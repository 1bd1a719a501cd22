#include "test_support.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

namespace normtrain::testing {

std::filesystem::path tiny_mnist_dir() {
  return std::filesystem::path(NORMTRAIN_SOURCE_DIR) / "data" / "mnist-tiny";
}

std::filesystem::path full_mnist_dir() {
  return std::filesystem::path(NORMTRAIN_SOURCE_DIR) / ".." / "shared" / "data" / "mnist";
}

bool has_full_mnist() {
  return std::filesystem::exists(full_mnist_dir() / "train-images-idx3-ubyte.gz");
}

// Made and removed with POSIX calls rather than std::filesystem: PyTorch's wheels export their
// own statically linked copies of libstdc++'s directory iterators (pytorch/pytorch#133437), and
// std::filesystem::remove_all, resolving to them, crashed a test binary built against such a
// LibTorch.
TempDir::TempDir() {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                        "/normtrain-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot make a temporary folder " + pattern + ": " +
                             std::strerror(errno));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  // Depth first, not following links: each folder is emptied before it is removed.
  ::nftw(
      path_.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) {
        ::remove(path);
        return 0;
      },
      /*nopenfd=*/16, FTW_DEPTH | FTW_PHYS);
}

std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& values) {
  std::vector<std::uint8_t> bytes = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((d >> shift) & 0xff);
  }
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

std::vector<std::uint8_t> gzip_bytes(const std::vector<std::uint8_t>& raw) {
  z_stream stream{};
  // 15 window bits + 16: write a gzip header rather than a zlib one.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::vector<std::uint8_t> out(deflateBound(&stream, raw.size()) + 64);
  stream.next_in = const_cast<Bytef*>(raw.data());
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace normtrain::testing
