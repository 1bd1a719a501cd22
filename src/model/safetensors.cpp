#include "normtrain/model/safetensors.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace normtrain {
namespace {

// The header's reserved key.
constexpr const char* kMetadataKey = "__metadata__";
// The header is padded so that the data starts at a multiple of this (the reference writer's
// rule), which aligns every element type.
constexpr std::size_t kHeaderAlignment = 8;

std::size_t element_count(const SafetensorsTensor& tensor) {
  std::size_t count = 1;
  for (std::int64_t dim : tensor.shape) {
    if (dim < 0) {
      throw std::invalid_argument(
          fmt::format("safetensors: tensor {} has a negative dimension", tensor.name));
    }
    count *= static_cast<std::size_t>(dim);
  }
  return count;
}

void check_tensor(const SafetensorsTensor& tensor) {
  if (tensor.name.empty() || tensor.name == kMetadataKey) {
    throw std::invalid_argument(fmt::format("safetensors: '{}' cannot name a tensor", tensor.name));
  }
  const std::size_t element_size = safetensors_element_size(tensor.dtype);
  if (element_size == 0) {
    throw std::invalid_argument(
        fmt::format("safetensors: tensor {} has an unknown dtype {}", tensor.name, tensor.dtype));
  }
  if (tensor.data.size() != element_count(tensor) * element_size) {
    throw std::invalid_argument(fmt::format(
        "safetensors: tensor {} has {} bytes of data, its {} shape needs {}", tensor.name,
        tensor.data.size(), tensor.dtype, element_count(tensor) * element_size));
  }
}

// Data is little-endian in the file; this writer copies bytes as they are.
bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::copy_n(reinterpret_cast<const unsigned char*>(&probe), 1, &first);
  return first == 1;
}

}  // namespace

std::size_t safetensors_element_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
      {"I32", 4},  {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}};
  const auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

std::string encode_safetensors(const std::vector<SafetensorsTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  if (!host_is_little_endian()) {
    throw std::invalid_argument("safetensors: this writer needs a little-endian machine");
  }
  std::set<std::string> names;
  for (const SafetensorsTensor& tensor : tensors) {
    check_tensor(tensor);
    if (!names.insert(tensor.name).second) {
      throw std::invalid_argument(
          fmt::format("safetensors: the name {} is given twice", tensor.name));
    }
  }

  std::vector<const SafetensorsTensor*> order;
  for (const SafetensorsTensor& tensor : tensors) order.push_back(&tensor);
  std::sort(order.begin(), order.end(), [](const auto* left, const auto* right) {
    const std::size_t left_size = safetensors_element_size(left->dtype);
    const std::size_t right_size = safetensors_element_size(right->dtype);
    return left_size != right_size ? left_size > right_size : left->name < right->name;
  });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::size_t offset = 0;
  for (const SafetensorsTensor* tensor : order) {
    header[tensor->name] = {{"dtype", tensor->dtype},
                            {"shape", tensor->shape},
                            {"data_offsets", {offset, offset + tensor->data.size()}}};
    offset += tensor->data.size();
  }
  std::string header_text = header.dump();
  header_text.append(
      (kHeaderAlignment - (8 + header_text.size()) % kHeaderAlignment) % kHeaderAlignment, ' ');

  std::string file;
  file.reserve(8 + header_text.size() + offset);
  std::uint64_t length = header_text.size();
  for (int byte = 0; byte < 8; ++byte) {
    file.push_back(static_cast<char>(length & 0xff));
    length >>= 8;
  }
  file += header_text;
  for (const SafetensorsTensor* tensor : order) file.append(tensor->data);
  return file;
}

}  // namespace normtrain
