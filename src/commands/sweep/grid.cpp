#include "normtrain/commands/sweep/grid.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "normtrain/cli/cli.hpp"
#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// Flags that a grid cannot hold, each with the reason.
struct ForbiddenFlag {
  const char* flag;
  const char* reason;
};
constexpr ForbiddenFlag kForbiddenFlags[] = {
    {"--out", "is set by the sweep (use the sweep's --out)"},
    {"--resume", "is set by the sweep (use the sweep's --out)"},
    {"--continue", "is set by the sweep: each run continues its folder's run or refuses"},
    {"--overwrite", "is set by the sweep: each run continues its folder's run or refuses"},
    {"--dry-run", "is the sweep's option: normtrain sweep --dry-run -- GRID..."},
    {"--help", "does not train; leave it out"},
    {"--version", "does not train; leave it out"},
    {"--verify-data", "does not train; leave it out"},
};

void check_flag(const std::string& flag) {
  for (const ForbiddenFlag& forbidden : kForbiddenFlags) {
    if (flag == forbidden.flag) {
      throw UsageError(fmt::format("grid: {} {}", flag, forbidden.reason));
    }
  }
}

std::vector<std::string> split_values(const std::string& flag, const std::string& value) {
  if (value.find('\n') != std::string::npos) {
    throw UsageError(fmt::format("grid: {} has a value with a newline", flag));
  }
  std::vector<std::string> values;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = value.find(',', start);
    values.push_back(value.substr(start, comma == std::string::npos ? comma : comma - start));
    if (values.back().empty()) {
      throw UsageError(fmt::format("grid: {} has an empty value in '{}'", flag, value));
    }
    if (values.back().rfind("--", 0) == 0) {
      throw UsageError(fmt::format("grid: a value of {} starts with '--'", flag));
    }
    if (comma == std::string::npos) return values;
    start = comma + 1;
  }
}

// The value of a flag that takes a list (list_flag_names) as the one value it is.
std::vector<std::string> one_value(const std::string& flag, const std::string& value) {
  if (value.find('\n') != std::string::npos) {
    throw UsageError(fmt::format("grid: {} has a value with a newline", flag));
  }
  if (value.empty()) throw UsageError(fmt::format("grid: {} has an empty value", flag));
  return {value};
}

Grid parse_grid(const std::vector<std::string>& words) {
  Grid grid;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.size() < 3 || word.rfind("--", 0) != 0) {
      throw UsageError(
          fmt::format("grid: '{}' is not a --flag (give each value after its flag)", word));
    }
    GridFlag entry;
    const std::size_t equals = word.find('=');
    entry.flag = word.substr(0, equals);
    check_flag(entry.flag);
    for (const GridFlag& seen : grid) {
      if (seen.flag == entry.flag) {
        throw UsageError(
            fmt::format("grid: {} is given twice; list its values with commas", entry.flag));
      }
    }
    const std::vector<std::string>& lists = list_flag_names();
    const bool one_list = std::find(lists.begin(), lists.end(), entry.flag) != lists.end();
    const auto values_of = [&](const std::string& value) {
      return one_list ? one_value(entry.flag, value) : split_values(entry.flag, value);
    };
    if (equals != std::string::npos) {
      entry.values = values_of(word.substr(equals + 1));
    } else if (i + 1 < words.size() && words[i + 1].rfind("--", 0) != 0) {
      entry.values = values_of(words[++i]);
    }
    grid.push_back(std::move(entry));
  }
  return grid;
}

// Appends a flag and its value as the run's command line will carry them; a value that starts
// with '-' is joined to its flag, so that it cannot be read as an option.
void append_flag(std::vector<std::string>& words, const GridFlag& flag, const std::string* value) {
  if (value == nullptr) {
    words.push_back(flag.flag);
  } else if (!value->empty() && value->front() == '-') {
    words.push_back(flag.flag + "=" + *value);
  } else {
    words.push_back(flag.flag);
    words.push_back(*value);
  }
}

// The configuration normtrain reads from a run's flags, or a usage Error naming the run.
TrainConfig parse_run(const std::vector<std::string>& flags) {
  try {
    return parse_training_flags(flags);
  } catch (const Error& error) {
    throw UsageError(fmt::format("grid: normtrain refuses the run '{}': {}", fmt::join(flags, " "),
                                 error.what()));
  }
}

bool is_identity_flag(const std::string& flag) {
  const std::vector<std::string>& names = identity_flag_names();
  return std::find(names.begin(), names.end(), flag) != names.end();
}

// The names of the identity flags that apply to `config`.
std::set<std::string> applicable(const TrainConfig& config) {
  std::set<std::string> names;
  for (const IdentityFlag& flag : identity_flags(config)) names.insert(flag.flag);
  return names;
}

// What the flags of a grid do to each other, found by reading each value alone, so that it
// costs a parse per value rather than per run.
struct FlagRoles {
  // Identity flags that may not apply to some runs: those normtrain refuses alone (--groups
  // needs --norm gn) and those that a value of another flag leaves out (--lr under --scheduler
  // onecycle).
  std::set<std::string> conditional;
  // Flags whose value decides which identity flags apply (--norm, --scheduler), and flags that
  // normtrain refuses alone for another reason: a run's configuration from these alone says
  // which of its conditional flags it keeps.
  std::set<std::string> deciding;
};

FlagRoles flag_roles(const Grid& grid) {
  FlagRoles roles;
  const std::set<std::string> usual = applicable(parse_training_flags({}));
  std::vector<std::set<std::string>> alone;
  for (const GridFlag& flag : grid) {
    for (std::size_t i = 0; i < std::max<std::size_t>(flag.values.size(), 1); ++i) {
      std::vector<std::string> words;
      append_flag(words, flag, flag.values.empty() ? nullptr : &flag.values[i]);
      try {
        alone.push_back(applicable(parse_training_flags(words)));
        if (alone.back() != usual) roles.deciding.insert(flag.flag);
      } catch (const Error&) {
        (is_identity_flag(flag.flag) ? roles.conditional : roles.deciding).insert(flag.flag);
      }
    }
  }
  for (const GridFlag& flag : grid) {
    if (!is_identity_flag(flag.flag)) continue;
    for (const std::set<std::string>& names : alone) {
      if (names.count(flag.flag) == 0) roles.conditional.insert(flag.flag);
    }
  }
  for (const std::string& flag : roles.conditional) roles.deciding.erase(flag);
  return roles;
}

// A flag that is neither part of a run's identity nor decides which identity flags apply, such
// as --precise-bn or --diagnostics-every: what it may do depends on the run's other flags.
bool is_extra(const std::string& flag, const FlagRoles& roles) {
  return !is_identity_flag(flag) && roles.deciding.count(flag) == 0;
}

// A run's flags, grouped by the grid flag they come from.
struct FlagWords {
  const std::string* flag;
  std::vector<std::string> words;  // the flag and its value, as append_flag wrote them
};

std::vector<std::string> flatten(const std::vector<FlagWords>& parts) {
  std::vector<std::string> words;
  for (const FlagWords& part : parts)
    words.insert(words.end(), part.words.begin(), part.words.end());
  return words;
}

std::optional<TrainConfig> try_parse(const std::vector<std::string>& flags) {
  try {
    return parse_training_flags(flags);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// For a run normtrain refuses: when leaving out one extra flag (is_extra) makes it a run
// normtrain accepts, that flag does not apply to this run (--precise-bn under --norm gn, beside
// --norm bn), so it is left out of `parts`, as identity flags that do not apply are; the run's
// configuration, or nullopt when no such flag exists. `dropped` gets the flag's words.
std::optional<TrainConfig> without_a_refused_extra(std::vector<FlagWords>& parts,
                                                   const FlagRoles& roles,
                                                   std::vector<std::string>& dropped) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!is_extra(*parts[i].flag, roles)) continue;
    std::vector<FlagWords> without = parts;
    without.erase(without.begin() + static_cast<std::ptrdiff_t>(i));
    if (std::optional<TrainConfig> config = try_parse(flatten(without))) {
      dropped = parts[i].words;
      parts = std::move(without);
      return config;
    }
  }
  return std::nullopt;
}

// Advances `index` to the grid's next run, the last flag fastest; false after the last run.
bool next_run(const Grid& grid, std::vector<std::size_t>& index) {
  for (std::size_t i = grid.size(); i-- > 0;) {
    if (++index[i] < std::max<std::size_t>(grid[i].values.size(), 1)) return true;
    index[i] = 0;
  }
  return false;
}

std::vector<GridPoint> expand_grid(const Grid& grid) {
  const FlagRoles roles = flag_roles(grid);
  const std::set<std::string>& conditional = roles.conditional;
  std::set<std::string> applied;  // conditional flags kept for at least one run
  // Extras (is_extra) with their values: those kept for at least one run, and those left out,
  // by the flags of the run that refused them.
  std::set<std::vector<std::string>> extras_kept;
  std::map<std::vector<std::string>, std::vector<std::string>> dropped_extras;
  // The identity flags that apply, by the values of the deciding flags: a few parses in all.
  std::map<std::vector<std::string>, std::set<std::string>> applicable_by_decider;
  std::vector<GridPoint> points;
  std::set<std::vector<std::string>> seen;
  std::vector<std::size_t> index(grid.size(), 0);
  const auto value_of = [&](std::size_t i) {
    return grid[i].values.empty() ? nullptr : &grid[i].values[index[i]];
  };
  do {
    std::vector<std::string> deciders;
    std::vector<std::string> all;
    for (std::size_t i = 0; i < grid.size(); ++i) {
      if (roles.deciding.count(grid[i].flag) > 0) append_flag(deciders, grid[i], value_of(i));
      append_flag(all, grid[i], value_of(i));
    }
    auto [entry, fresh] = applicable_by_decider.try_emplace(deciders);
    if (fresh) {
      try {
        entry->second = applicable(parse_training_flags(deciders));
      } catch (const Error&) {
        // A flag refused alone because it needs another non-identity flag (--landscape-steps
        // needs --landscape-every) is read with the run's other unconditional flags, which
        // change no identity flag's applicability.
        std::vector<std::string> unconditional;
        for (std::size_t i = 0; i < grid.size(); ++i) {
          if (conditional.count(grid[i].flag) == 0)
            append_flag(unconditional, grid[i], value_of(i));
        }
        try {
          entry->second = applicable(parse_training_flags(unconditional));
        } catch (const Error&) {
          parse_run(all);  // normtrain's reason, naming the run
          throw;
        }
      }
    }
    std::vector<FlagWords> parts;
    for (std::size_t i = 0; i < grid.size(); ++i) {
      if (conditional.count(grid[i].flag) > 0) {
        if (entry->second.count(grid[i].flag) == 0) continue;
        applied.insert(grid[i].flag);
      }
      parts.push_back({&grid[i].flag, {}});
      append_flag(parts.back().words, grid[i], value_of(i));
    }
    std::optional<TrainConfig> config = try_parse(flatten(parts));
    if (!config) {
      const std::vector<std::string> refused = flatten(parts);
      config = without_a_refused_extra(parts, roles, dropped_extras[refused]);
    }
    for (const FlagWords& part : parts) {
      if (is_extra(*part.flag, roles)) extras_kept.insert(part.words);
    }
    GridPoint point;
    point.flags = flatten(parts);
    if (seen.insert(point.flags).second) {
      point.config = config ? *config : parse_run(point.flags);  // parse_run: normtrain's reason
      points.push_back(std::move(point));
    }
  } while (next_run(grid, index));

  std::set<std::string> not_applied;
  for (const std::string& flag : conditional) {
    if (applied.count(flag) == 0) not_applied.insert(flag);
  }
  // An extra is left out of a run only where the same flag and value apply to another: a value
  // that no run takes (--precise-bn -5) is an error, not a run without it.
  for (const auto& [run, extra] : dropped_extras) {
    if (extra.empty() || extras_kept.count(extra) > 0) continue;
    std::string reason = "normtrain refuses it";
    try {
      parse_training_flags(run);
    } catch (const Error& error) {
      reason = error.what();
    }
    throw UsageError(
        fmt::format("grid: {} applies to none of the runs: {}", fmt::join(extra, " "), reason));
  }
  for (const std::string& flag : not_applied) {
    // normtrain's own reason, from the grid's first run with every flag kept.
    std::vector<std::string> first;
    for (const GridFlag& entry : grid) {
      append_flag(first, entry, entry.values.empty() ? nullptr : &entry.values.front());
    }
    std::string reason = "it has no effect on any of them";
    try {
      parse_training_flags(first);
    } catch (const Error& error) {
      reason = error.what();
    }
    throw UsageError(fmt::format("grid: {} applies to none of the runs: {}", flag, reason));
  }
  return points;
}

}  // namespace

TrainConfig parse_training_flags(const std::vector<std::string>& flags) {
  std::vector<const char*> argv = {"normtrain"};
  for (const std::string& word : flags) argv.push_back(word.c_str());
  std::ostringstream ignored;
  const std::optional<Command> command =
      parse_command_line(static_cast<int>(argv.size()), argv.data(), ignored);
  const TrainConfig* config = command ? std::get_if<TrainConfig>(&*command) : nullptr;
  if (config == nullptr) throw UsageError("not a training run");
  return *config;
}

std::vector<Grid> parse_grids(const std::vector<std::string>& words) {
  std::vector<Grid> grids;
  auto start = words.begin();
  while (true) {
    const auto end = std::find(start, words.end(), std::string("--"));
    if (start == end) {
      throw UsageError(
          grids.empty() ? "empty grid: give training flags after '--', e.g. normtrain sweep -- "
                          "--norm ln,gn --seed 1,2"
                        : fmt::format("empty grid after the '--' that ends grid {}", grids.size()));
    }
    grids.push_back(parse_grid(std::vector<std::string>(start, end)));
    if (end == words.end()) return grids;
    start = std::next(end);
  }
}

std::vector<GridPoint> expand_grids(const std::vector<Grid>& grids) {
  std::vector<GridPoint> points;
  std::set<std::vector<std::string>> seen;
  for (const Grid& grid : grids) {
    for (GridPoint& point : expand_grid(grid)) {
      if (seen.insert(point.flags).second) points.push_back(std::move(point));
    }
  }
  return points;
}

}  // namespace normtrain
