#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/cli/config.hpp"
#include "normtrain/common/error.hpp"

namespace normtrain {

// Parameterized tests print a norm by its flag ("gn"), not as four bytes.
inline void PrintTo(NormKind norm, std::ostream* out) {
  *out << to_flag(norm);
}

}  // namespace normtrain

namespace normtrain::testing {

// The message of the runtime Error that `body` throws; a test failure when it throws none.
template <typename Body>
std::string runtime_error_of(Body body) {
  try {
    body();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    return error.what();
  }
  ADD_FAILURE() << "nothing was thrown";
  return {};
}

// A test failure unless `message` contains `part`.
inline void expect_mentions(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

// The committed 2,000 / 500 image MNIST subset.
std::filesystem::path tiny_mnist_dir();
// The full MNIST beside the checkout, when this machine has it.
std::filesystem::path full_mnist_dir();
bool has_full_mnist();

// A fresh, empty folder for one test, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The bytes of an IDX file of unsigned bytes with the given dimensions and values.
std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& values);
std::vector<std::uint8_t> gzip_bytes(const std::vector<std::uint8_t>& raw);
void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);
std::string read_text(const std::filesystem::path& path);

}  // namespace normtrain::testing
