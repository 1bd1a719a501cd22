// libFuzzer target for the IDX reader: raw and gzip-compressed input, from memory.
// An Error is the expected answer to malformed input; anything else (a crash, a sanitizer
// report, another exception type, an abort, a result that breaks the invariant) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "normtrain/common/error.hpp"
#include "normtrain/data/idx.hpp"

namespace {

// The name read_idx_bytes is given, which its error messages must contain.
constexpr const char* kName = "fuzz input";

// The number of values `dims` describe, or false when it does not fit in 64 bits.
bool value_count(const std::vector<std::int64_t>& dims, std::uint64_t& count) {
  count = 1;
  for (const std::int64_t extent : dims) {
    if (extent == 0) {
      count = 0;
      return true;
    }
  }
  for (const std::int64_t extent : dims) {
    if (extent < 0 || __builtin_mul_overflow(count, static_cast<std::uint64_t>(extent), &count)) {
      return false;
    }
  }
  return true;
}

[[noreturn]] void invariant_broken(const char* what) {
  std::fprintf(stderr, "idx_fuzzer: read_idx_bytes accepted the input but %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const normtrain::IdxArray array = normtrain::read_idx_bytes(bytes, kName);
    if (array.dims.empty()) invariant_broken("returned no dimensions");
    std::uint64_t count = 0;
    if (!value_count(array.dims, count)) invariant_broken("returned impossible dimensions");
    if (array.values.size() != count) {
      invariant_broken("returned a value count other than the product of its dimensions");
    }
  } catch (const normtrain::Error& error) {
    // Malformed input, rejected as it should be: with a runtime Error that names the input.
    if (error.kind() != normtrain::ErrorKind::kRuntime) {
      std::fprintf(stderr, "idx_fuzzer: a usage Error for malformed input: %s\n", error.what());
      std::abort();
    }
    if (std::string(error.what()).find(kName) == std::string::npos) {
      std::fprintf(stderr, "idx_fuzzer: an Error that does not name the input: %s\n", error.what());
      std::abort();
    }
  }
  return 0;
}
