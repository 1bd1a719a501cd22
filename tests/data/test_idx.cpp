#include "normtrain/data/idx.hpp"

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::gzip_bytes;
using testing::idx_bytes;
using testing::TempDir;
using testing::write_bytes;

// Expects read_idx_file to fail with a message that names the file and contains `problem`.
void expect_broken(const std::filesystem::path& path, const std::string& problem) {
  try {
    read_idx_file(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
  }
}

TEST(Idx, ReadsRawAndGzipAlike) {
  TempDir dir;
  const std::vector<std::uint8_t> values = {0, 1, 2, 3, 4, 5, 250, 255, 9, 10, 11, 12};
  const auto raw = idx_bytes({2, 2, 3}, values);
  write_bytes(dir.path() / "a", raw);
  write_bytes(dir.path() / "a.gz", gzip_bytes(raw));
  for (const char* name : {"a", "a.gz"}) {
    const IdxArray array = read_idx_file(dir.path() / name);
    EXPECT_EQ(array.dims, (std::vector<std::int64_t>{2, 2, 3})) << name;
    EXPECT_EQ(array.values, values) << name;
  }
}

TEST(Idx, ConcatenatedGzipMembersAreOneStream) {
  TempDir dir;
  const auto raw = idx_bytes({6}, {1, 2, 3, 4, 5, 6});
  const std::vector<std::uint8_t> head(raw.begin(), raw.begin() + 5);
  const std::vector<std::uint8_t> tail(raw.begin() + 5, raw.end());
  auto joined = gzip_bytes(head);
  const auto second = gzip_bytes(tail);
  joined.insert(joined.end(), second.begin(), second.end());
  write_bytes(dir.path() / "joined.gz", joined);
  EXPECT_EQ(read_idx_file(dir.path() / "joined.gz").values,
            (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Idx, MissingFileIsNamed) {
  expect_broken("/nonexistent/normtrain/file", "cannot open");
}

TEST(Idx, EmptyFile) {
  TempDir dir;
  write_bytes(dir.path() / "empty", {});
  expect_broken(dir.path() / "empty", "empty");
}

TEST(Idx, WrongMagic) {
  TempDir dir;
  auto bytes = idx_bytes({2}, {1, 2});
  bytes[2] = 0x0D;  // float type code
  write_bytes(dir.path() / "float", bytes);
  expect_broken(dir.path() / "float", "magic");
  write_bytes(dir.path() / "text", {'h', 'e', 'l', 'l', 'o', '\n'});
  expect_broken(dir.path() / "text", "magic");
}

TEST(Idx, ShorterThanHeaderSays) {
  TempDir dir;
  auto bytes = idx_bytes({10, 28, 28}, std::vector<std::uint8_t>(9 * 28 * 28));
  write_bytes(dir.path() / "short", bytes);
  expect_broken(dir.path() / "short", "truncated");
  write_bytes(dir.path() / "short.gz", gzip_bytes(bytes));
  expect_broken(dir.path() / "short.gz", "truncated");
}

TEST(Idx, LongerThanHeaderSays) {
  TempDir dir;
  auto bytes = idx_bytes({3}, {1, 2, 3, 4});
  write_bytes(dir.path() / "long", bytes);
  expect_broken(dir.path() / "long", "longer");
  write_bytes(dir.path() / "long.gz", gzip_bytes(bytes));
  expect_broken(dir.path() / "long.gz", "longer");
}

TEST(Idx, EndsInsideHeader) {
  TempDir dir;
  auto bytes = idx_bytes({3, 28, 28}, {});
  bytes.resize(9);
  write_bytes(dir.path() / "cut", bytes);
  expect_broken(dir.path() / "cut", "header");
}

TEST(Idx, HugeClaimsAreRejectedWithoutAllocating) {
  TempDir dir;
  // 4 billion images of 28x28: the header alone, 16 bytes on disk.
  write_bytes(dir.path() / "huge", idx_bytes({4000000000u, 28, 28}, {}));
  expect_broken(dir.path() / "huge", "4 GiB");
  // Within the cap but unbacked: two million images claimed, none present.
  write_bytes(dir.path() / "unbacked.gz", gzip_bytes(idx_bytes({2000000, 28, 28}, {})));
  expect_broken(dir.path() / "unbacked.gz", "truncated");
}

TEST(Idx, BrokenGzipStream) {
  TempDir dir;
  auto gz = gzip_bytes(idx_bytes({64}, std::vector<std::uint8_t>(64, 7)));
  auto corrupt = gz;
  for (std::size_t i = 12; i < corrupt.size() - 8; ++i) corrupt[i] ^= 0x5a;
  write_bytes(dir.path() / "corrupt.gz", corrupt);
  expect_broken(dir.path() / "corrupt.gz", "gzip");
  gz.resize(gz.size() / 2);
  write_bytes(dir.path() / "half.gz", gz);
  expect_broken(dir.path() / "half.gz", "gzip");
}

TEST(Idx, ParsesFromMemory) {
  const auto bytes = idx_bytes({2, 1}, {7, 8});
  const IdxArray array = parse_idx(bytes.data(), bytes.size(), "memory");
  EXPECT_EQ(array.values, (std::vector<std::uint8_t>{7, 8}));
}

}  // namespace
}  // namespace normtrain
