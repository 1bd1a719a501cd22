#include "normtrain/data/mirror_urls.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/dataset_info.hpp"

namespace normtrain {
namespace {

bool starts_with_ignoring_case(const std::string& text, const std::string& prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

std::string checked_mirror(const std::string& value, const std::string& source) {
  if (!is_mirror_url(value)) {
    throw UsageError(fmt::format(
        "{} '{}' is not a mirror URL: give an http://, https:// or file:// URL of a folder that "
        "holds the four MNIST .gz files, e.g. https://ossci-datasets.s3.amazonaws.com/mnist/ or "
        "file:///srv/mnist/",
        source, value));
  }
  return value;
}

}  // namespace

std::vector<std::string> default_mnist_mirrors() {
  return dataset_info(DatasetKind::kMnist).mirrors;
}

bool is_mirror_url(const std::string& url) {
  for (const char* scheme : {"http://", "https://", "file://"}) {
    if (starts_with_ignoring_case(url, scheme) && url.size() > std::string(scheme).size()) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> resolve_mirrors(const std::string& flag_value, const char* env_value,
                                         const std::vector<std::string>& defaults) {
  if (!flag_value.empty()) return {checked_mirror(flag_value, kMirrorFlag)};
  if (env_value != nullptr && *env_value != '\0') return {checked_mirror(env_value, kMirrorEnv)};
  return defaults;
}

std::string mirror_file_url(const std::string& mirror, const std::string& file_name) {
  if (!mirror.empty() && mirror.back() == '/') return mirror + file_name;
  return mirror + "/" + file_name;
}

}  // namespace normtrain
