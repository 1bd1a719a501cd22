#pragma once

#include <string>
#include <vector>

namespace normtrain {

// The flag and the environment variable that replace the mirrors, as messages name them.
inline constexpr const char* kMirrorFlag = "--mirror";
inline constexpr const char* kMirrorEnv = "NORMTRAIN_MNIST_MIRROR";

// Where the four files are fetched from when missing, tried in order.
std::vector<std::string> default_mnist_mirrors();

// Whether `url` can be a mirror: http://, https:// or file:// (in any case) and something after.
bool is_mirror_url(const std::string& url);

// The mirrors to use: `flag_value` (--mirror) when not empty, else `env_value`
// (NORMTRAIN_MNIST_MIRROR) when set and not empty, else the defaults. A given mirror replaces
// the list. Throws a usage Error naming the flag or variable when the value is not an http://,
// https:// or file:// URL.
std::vector<std::string> resolve_mirrors(
    const std::string& flag_value, const char* env_value,
    const std::vector<std::string>& defaults = default_mnist_mirrors());

// The URL of `file_name` on `mirror`, whether or not the mirror ends in '/'.
std::string mirror_file_url(const std::string& mirror, const std::string& file_name);

}  // namespace normtrain
