#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// OpenSSL's digest context, declared here so that this header does not pull in OpenSSL.
struct evp_md_ctx_st;

namespace normtrain {

// An incremental SHA-256 (OpenSSL's EVP interface underneath): feed bytes as they arrive,
// then take the digest as 64 lowercase hex digits.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  // The digest of everything fed so far; starts over afterwards, ready for new input.
  std::string hex_digest();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> context_;
};

// The SHA-256 of a whole buffer, as 64 lowercase hex digits.
std::string sha256_hex(const std::vector<std::uint8_t>& bytes);
std::string sha256_hex(std::string_view text);

}  // namespace normtrain
