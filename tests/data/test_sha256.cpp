#include "normtrain/data/sha256.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::vector<std::uint8_t>{'a', 'b', 'c'}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsWholeAndRestartsAfterDigest) {
  Sha256 hash;
  hash.update("a", 1);
  hash.update("bc", 2);
  EXPECT_EQ(hash.hex_digest(), sha256_hex(std::string_view("abc")));
  EXPECT_EQ(hash.hex_digest(), sha256_hex(std::string_view("")));
}

}  // namespace
}  // namespace normtrain
