#include "normtrain/data/content_digest.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/sha256.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::gzip_bytes;
using testing::TempDir;
using testing::write_bytes;

namespace fs = std::filesystem;

// `size` bytes that do not compress, so that a gzip of them spans several read chunks too.
std::vector<std::uint8_t> noise(std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  std::uint32_t state = 12345;
  for (std::uint8_t& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<std::uint8_t>(state >> 24);
  }
  return bytes;
}

fs::path write_file(const TempDir& dir, const std::string& name,
                    const std::vector<std::uint8_t>& bytes) {
  write_bytes(dir.path() / name, bytes);
  return dir.path() / name;
}

TEST(ContentDigest, ARawFileIsHashedAsItIs) {
  TempDir dir;
  const std::vector<std::uint8_t> bytes = {1, 2, 3, 4, 5};
  const ContentDigest digest = digest_content(write_file(dir, "raw", bytes));
  EXPECT_EQ(digest.sha256, sha256_hex(bytes));
  EXPECT_EQ(digest.size, bytes.size());
  EXPECT_FALSE(digest.over_limit);
  EXPECT_TRUE(digest.problem.empty());
}

TEST(ContentDigest, AnEmptyFileHasTheEmptyDigest) {
  TempDir dir;
  const ContentDigest digest = digest_content(write_file(dir, "empty", {}));
  EXPECT_EQ(digest.sha256, sha256_hex(std::string_view("")));
  EXPECT_EQ(digest.size, 0u);
}

TEST(ContentDigest, AGzipFileIsHashedDecompressedAcrossManyChunks) {
  TempDir dir;
  // Over 1 MiB both compressed and decompressed: several reads and several inflate rounds.
  const std::vector<std::uint8_t> content = noise(3 * 1024 * 1024 + 17);
  const ContentDigest digest = digest_content(write_file(dir, "x.gz", gzip_bytes(content)));
  EXPECT_TRUE(digest.problem.empty()) << digest.problem;
  EXPECT_EQ(digest.sha256, sha256_hex(content));
  EXPECT_EQ(digest.size, content.size());
}

TEST(ContentDigest, ConcatenatedGzipMembersAreOneContent) {
  TempDir dir;
  const std::vector<std::uint8_t> first = {1, 2, 3};
  const std::vector<std::uint8_t> second = {4, 5};
  std::vector<std::uint8_t> file = gzip_bytes(first);
  const std::vector<std::uint8_t> more = gzip_bytes(second);
  file.insert(file.end(), more.begin(), more.end());
  const ContentDigest digest = digest_content(write_file(dir, "x.gz", file));
  EXPECT_TRUE(digest.problem.empty()) << digest.problem;
  EXPECT_EQ(digest.sha256, sha256_hex(std::vector<std::uint8_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(digest.size, 5u);
}

TEST(ContentDigest, ATruncatedGzipIsAProblemNotADigest) {
  TempDir dir;
  std::vector<std::uint8_t> file = gzip_bytes(noise(1000));
  file.resize(file.size() / 2);
  const ContentDigest digest = digest_content(write_file(dir, "x.gz", file));
  EXPECT_EQ(digest.problem, "the gzip stream ends early: the file is truncated");
  EXPECT_TRUE(digest.sha256.empty());
}

TEST(ContentDigest, ACorruptGzipIsAProblemNotADigest) {
  TempDir dir;
  std::vector<std::uint8_t> file = gzip_bytes(noise(1000));
  for (std::size_t i = 10; i < file.size(); ++i) file[i] = 0xff;
  const ContentDigest digest = digest_content(write_file(dir, "x.gz", file));
  EXPECT_EQ(digest.problem.rfind("not a valid gzip stream (", 0), 0u) << digest.problem;
  EXPECT_TRUE(digest.sha256.empty());
}

TEST(ContentDigest, AGzipBombStopsAtTheLimit) {
  TempDir dir;
  // 64 MiB of zeros compress to about 64 KiB; only the limit's worth is ever inflated and hashed.
  const fs::path bomb =
      write_file(dir, "bomb.gz", gzip_bytes(std::vector<std::uint8_t>(64u << 20, 0)));
  const ContentDigest digest = digest_content(bomb, 1000);
  EXPECT_TRUE(digest.over_limit);
  EXPECT_LE(digest.size, 1000u);
  EXPECT_TRUE(digest.problem.empty()) << digest.problem;
}

TEST(ContentDigest, TheLimitCountsDecompressedBytesForRawFilesToo) {
  TempDir dir;
  const std::vector<std::uint8_t> content = noise(100);
  const fs::path raw = write_file(dir, "raw", content);
  const fs::path gz = write_file(dir, "x.gz", gzip_bytes(content));
  EXPECT_TRUE(digest_content(raw, 99).over_limit);
  EXPECT_TRUE(digest_content(gz, 99).over_limit);
  // Exactly the limit is within it.
  EXPECT_FALSE(digest_content(raw, 100).over_limit);
  const ContentDigest at_limit = digest_content(gz, 100);
  EXPECT_FALSE(at_limit.over_limit);
  EXPECT_EQ(at_limit.sha256, sha256_hex(content));
}

TEST(ContentDigest, AFileThatCannotBeOpenedIsARuntimeError) {
  TempDir dir;
  try {
    digest_content(dir.path() / "absent.gz");
    FAIL() << "digested a missing file";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(error.what()).find("absent.gz"), std::string::npos) << error.what();
  }
}

TEST(ContentDigest, IsGzipFileLooksAtTheMagicBytesOnly) {
  TempDir dir;
  EXPECT_TRUE(is_gzip_file(write_file(dir, "a", gzip_bytes({1, 2, 3}))));
  EXPECT_TRUE(is_gzip_file(write_file(dir, "b", {0x1f, 0x8b})));
  EXPECT_FALSE(is_gzip_file(write_file(dir, "c.gz", {1, 2, 3})));
  EXPECT_FALSE(is_gzip_file(write_file(dir, "d", {0x1f})));
  EXPECT_FALSE(is_gzip_file(dir.path() / "absent"));
}

}  // namespace
}  // namespace normtrain
