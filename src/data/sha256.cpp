#include "normtrain/data/sha256.hpp"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

void start_digest(EVP_MD_CTX* context) {
  if (EVP_DigestInit_ex(context, EVP_sha256(), nullptr) != 1) {
    throw RuntimeError("OpenSSL cannot start a SHA-256 digest: check the OpenSSL installation");
  }
}

}  // namespace

void Sha256::FreeContext::operator()(evp_md_ctx_st* context) const {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_) throw RuntimeError("OpenSSL cannot allocate a SHA-256 digest context");
  start_digest(context_.get());
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(context_.get(), data, size) != 1) {
    throw RuntimeError("OpenSSL failed while computing a SHA-256 digest");
  }
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) {
    throw RuntimeError("OpenSSL failed to finish a SHA-256 digest");
  }
  start_digest(context_.get());
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string sha256_hex(const std::vector<std::uint8_t>& bytes) {
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.hex_digest();
}

std::string sha256_hex(std::string_view text) {
  Sha256 hash;
  hash.update(text.data(), text.size());
  return hash.hex_digest();
}

}  // namespace normtrain
