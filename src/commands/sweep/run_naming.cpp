#include "normtrain/commands/sweep/run_naming.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// The flags of a run's command line with their values (none for a bare flag), in order.
std::vector<std::pair<std::string, std::optional<std::string>>> flag_values(
    const std::vector<std::string>& words) {
  std::vector<std::pair<std::string, std::optional<std::string>>> flags;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::size_t equals = words[i].find('=');
    if (equals != std::string::npos) {
      flags.emplace_back(words[i].substr(0, equals), words[i].substr(equals + 1));
    } else if (i + 1 < words.size() && words[i + 1].rfind("--", 0) != 0) {
      flags.emplace_back(words[i], words[i + 1]);
      ++i;
    } else {
      flags.emplace_back(words[i], std::nullopt);
    }
  }
  return flags;
}

// The value of `flag` in a run as its name shows it: normtrain's spelling for an option of the
// run's identity, the given text for the others; nullopt when the run lacks the flag.
std::optional<std::string> name_value(const GridPoint& point, const std::string& flag) {
  std::optional<std::string> given;
  for (const auto& [name, value] : flag_values(point.flags)) {
    if (name == flag) given = value;
  }
  if (!given) return std::nullopt;
  for (const IdentityFlag& identity : identity_flags(point.config)) {
    if (identity.flag == flag) return identity.value;
  }
  return given;
}

std::vector<std::string> varying_flag_names(const std::vector<GridPoint>& points,
                                            const std::vector<std::string>& slugs) {
  std::vector<std::string> order;
  for (const GridPoint& point : points) {
    for (const auto& [flag, value] : flag_values(point.flags)) {
      if (value && std::find(order.begin(), order.end(), flag) == order.end()) {
        order.push_back(flag);
      }
    }
  }
  // A flag varies when two runs of the same variant have different values of it; a flag that
  // the variant's name shows (--norm, --groups, --l1, ...) never does.
  std::vector<std::string> varying;
  for (const std::string& flag : order) {
    std::map<std::string, std::set<std::string>> values_by_variant;
    bool varies = false;
    for (std::size_t i = 0; i < points.size() && !varies; ++i) {
      if (const std::optional<std::string> value = name_value(points[i], flag)) {
        std::set<std::string>& values = values_by_variant[slugs[i]];
        values.insert(*value);
        varies = values.size() > 1;
      }
    }
    if (varies) varying.push_back(flag);
  }
  return varying;
}

}  // namespace

std::string folder_safe(std::string text) {
  for (char& c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-') c = '-';
  }
  return text;
}

std::vector<SweepRun> name_runs(std::vector<GridPoint> points,
                                const std::filesystem::path& sweep_dir, FolderNames style) {
  std::vector<std::string> names;
  names.reserve(points.size());
  for (const GridPoint& point : points) names.push_back(variant_slug(point.config));
  if (style == FolderNames::kVaryingFlags) {
    const std::vector<std::string> varying = varying_flag_names(points, names);
    for (std::size_t i = 0; i < points.size(); ++i) {
      for (const std::string& flag : varying) {
        if (const std::optional<std::string> value = name_value(points[i], flag)) {
          names[i] += fmt::format("_{}-{}", flag.substr(2), folder_safe(*value));
        }
      }
    }
  } else {
    for (std::size_t i = 0; i < points.size(); ++i) {
      TrainConfig unplaced = points[i].config;
      unplaced.out_dir.clear();
      names[i] = std::filesystem::path(resolved_out_dir(unplaced)).filename().string();
    }
  }

  std::map<std::string, std::size_t> first_with_name;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto [first, fresh] = first_with_name.emplace(names[i], i);
    if (!fresh) {
      throw UsageError(fmt::format(
          "grid: two different runs would share the folder '{}' ({} and {}); give values that "
          "name different folders",
          names[i], fmt::join(points[first->second].flags, " "), fmt::join(points[i].flags, " ")));
    }
  }
  std::vector<SweepRun> runs;
  runs.reserve(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    SweepRun run;
    run.name = names[i];
    run.dir = sweep_dir / names[i];
    run.flags = std::move(points[i].flags);
    run.config = std::move(points[i].config);
    run.config.out_dir = run.dir.string();
    run.config.existing_run = ExistingRunPolicy::kContinue;
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace normtrain
