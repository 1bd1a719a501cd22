#include "normtrain/model/safetensors.hpp"

#include <cstring>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace normtrain {
namespace {

// Bytes of `values` as the machine holds them (the tests run on little-endian machines, which
// encode_safetensors requires).
template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A file read back by the specification alone.
struct ParsedFile {
  std::uint64_t header_length = 0;
  std::string header_text;
  nlohmann::json header;
  std::string data;
};

ParsedFile parse_file(const std::string& file) {
  ParsedFile parsed;
  EXPECT_GE(file.size(), 8u);
  for (int byte = 7; byte >= 0; --byte) {
    parsed.header_length = (parsed.header_length << 8) | static_cast<unsigned char>(file[byte]);
  }
  parsed.header_text = file.substr(8, parsed.header_length);
  parsed.header = nlohmann::json::parse(parsed.header_text);
  parsed.data = file.substr(8 + parsed.header_length);
  return parsed;
}

const std::vector<float> kWeights = {1.5F, -2.0F, 0.25F, 3.0F, -0.0F, 7.125F};
const std::vector<std::int64_t> kCount = {123456789012345};
const std::vector<float> kBias = {0.5F};

std::vector<SafetensorsTensor> sample_tensors(const std::string& weights, const std::string& count,
                                              const std::string& bias) {
  return {{"layer.weight", "F32", {2, 3}, weights},
          {"layer.count", "I64", {}, count},
          {"a.bias", "F32", {1}, bias}};
}

TEST(Safetensors, HeaderLengthJsonAndPaddingFollowTheFormat) {
  const std::string weights = bytes_of(kWeights);
  const std::string count = bytes_of(kCount);
  const std::string bias = bytes_of(kBias);
  const std::string file =
      encode_safetensors(sample_tensors(weights, count, bias), {{"norm", "gn"}, {"groups", "8"}});
  const ParsedFile parsed = parse_file(file);
  // The data starts at a multiple of 8; the header is padded with spaces to get there.
  EXPECT_EQ((8 + parsed.header_length) % 8, 0u);
  const std::size_t end = parsed.header_text.find_last_of('}');
  EXPECT_EQ(parsed.header_text.find_first_not_of(' ', end + 1), std::string::npos);
  EXPECT_LT(parsed.header_text.size() - end - 1, 8u);

  EXPECT_EQ(parsed.header["__metadata__"], (nlohmann::json{{"groups", "8"}, {"norm", "gn"}}));
  const nlohmann::json& w = parsed.header["layer.weight"];
  EXPECT_EQ(w["dtype"], "F32");
  EXPECT_EQ(w["shape"], (nlohmann::json{2, 3}));
  const nlohmann::json& c = parsed.header["layer.count"];
  EXPECT_EQ(c["dtype"], "I64");
  EXPECT_EQ(c["shape"], nlohmann::json::array());
  EXPECT_EQ(parsed.header["a.bias"]["shape"], (nlohmann::json{1}));
  EXPECT_EQ(parsed.header.size(), 4u);  // three tensors and the metadata
}

TEST(Safetensors, TensorsAreBackToBackLargestElementsFirstThenByName) {
  const std::string weights = bytes_of(kWeights);
  const std::string count = bytes_of(kCount);
  const std::string bias = bytes_of(kBias);
  const ParsedFile parsed =
      parse_file(encode_safetensors(sample_tensors(weights, count, bias), {}));
  const auto offsets = [&](const std::string& name) {
    return parsed.header[name]["data_offsets"].get<std::vector<std::size_t>>();
  };
  // I64 (8 bytes) first, then the F32 tensors by name: no gap, nothing after the last one.
  EXPECT_EQ(offsets("layer.count"), (std::vector<std::size_t>{0, 8}));
  EXPECT_EQ(offsets("a.bias"), (std::vector<std::size_t>{8, 12}));
  EXPECT_EQ(offsets("layer.weight"), (std::vector<std::size_t>{12, 36}));
  EXPECT_EQ(parsed.data.size(), 36u);
  // Each tensor's bytes, little-endian, where its offsets say.
  EXPECT_EQ(parsed.data.substr(0, 8), count);
  EXPECT_EQ(parsed.data.substr(8, 4), bias);
  EXPECT_EQ(parsed.data.substr(12, 24), weights);
  // Little-endian: the lowest byte of 0x7048860DDF79 first.
  EXPECT_EQ(static_cast<int>(static_cast<unsigned char>(parsed.data[0])), 0x79);
}

TEST(Safetensors, NoMetadataKeyWithoutMetadata) {
  const std::string bias = bytes_of(kBias);
  const ParsedFile parsed = parse_file(encode_safetensors({{"b", "F32", {1}, bias}}, {}));
  EXPECT_FALSE(parsed.header.contains("__metadata__"));
  EXPECT_EQ(parsed.header.size(), 1u);
}

TEST(Safetensors, HeaderLengthIsLittleEndianAndCoversThePadding) {
  // Metadata long enough to need more than one byte of header length.
  const std::string bias = bytes_of(kBias);
  const std::string file =
      encode_safetensors({{"b", "F32", {1}, bias}}, {{"note", std::string(300, 'x')}});
  const ParsedFile parsed = parse_file(file);
  EXPECT_GT(parsed.header_length, 255u);
  EXPECT_EQ(file.size(), 8 + parsed.header_length + 4);
  EXPECT_EQ(parsed.header["__metadata__"]["note"], std::string(300, 'x'));
}

TEST(Safetensors, RefusesWhatTheFormatCannotHold) {
  const std::string bias = bytes_of(kBias);
  const std::string two = bytes_of(std::vector<float>{1.0F, 2.0F});
  EXPECT_THROW(encode_safetensors({{"b", "F32", {2}, bias}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"b", "F33", {1}, bias}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"", "F32", {1}, bias}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"__metadata__", "F32", {1}, bias}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"b", "F32", {-1}, bias}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"b", "F32", {1}, bias}, {"b", "F32", {2}, two}}, {}),
               std::invalid_argument);
  EXPECT_NO_THROW(encode_safetensors({{"b", "F32", {2, 0}, std::string_view()}}, {}));
}

TEST(Safetensors, ElementSizes) {
  EXPECT_EQ(safetensors_element_size("F32"), 4u);
  EXPECT_EQ(safetensors_element_size("I64"), 8u);
  EXPECT_EQ(safetensors_element_size("BF16"), 2u);
  EXPECT_EQ(safetensors_element_size("U8"), 1u);
  EXPECT_EQ(safetensors_element_size("f32"), 0u);
}

}  // namespace
}  // namespace normtrain
