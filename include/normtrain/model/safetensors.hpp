#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace normtrain {

// One tensor to store: its name, safetensors dtype ("F32", "I64", ...), shape (outermost
// first) and its elements' bytes, row-major and little-endian.
struct SafetensorsTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::string_view data;
};

// The bytes of one element of a safetensors dtype ("F32" -> 4); 0 for a name it does not know.
std::size_t safetensors_element_size(const std::string& dtype);

// The safetensors file (https://huggingface.co/docs/safetensors) holding `tensors`, with
// `metadata` as its "__metadata__" (string values only, as the format requires): an 8-byte
// little-endian header length, the JSON header (every tensor's dtype, shape and data_offsets
// into the data that follows), padded with spaces to a multiple of 8 bytes, then the tensors'
// bytes back to back, with no gap. The data is ordered as the reference writer orders it, by
// element size (largest first), then name, so that every tensor starts at a multiple of its
// element size. Throws std::invalid_argument for a caller's mistake: an empty, repeated or
// reserved name, an unknown dtype, a negative dimension, or data whose size does not match
// its shape.
std::string encode_safetensors(const std::vector<SafetensorsTensor>& tensors,
                               const std::map<std::string, std::string>& metadata);

}  // namespace normtrain
