#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "normtrain/commands/sweep/grid.hpp"
#include "normtrain/commands/sweep/sweep_run.hpp"

namespace normtrain {

// How run folders are named.
enum class FolderNames {
  // normtrain's variant (variant_slug: bn-l1-0.01, gn-8, fashion-mnist-ln-onecycle), then
  // _FLAG-VALUE for each flag whose value varies between runs of the same variant, in grid
  // order: gn-8_seed-2, bn_lr-0.05_seed-1.
  kVaryingFlags,
  // The name normtrain gives a run without --out: the variant, plus -seed-N for a seed other
  // than 1 (gn-8, gn-8-seed-2). Grids that vary anything else share folders and are refused.
  kNormtrainDefault,
};

// The grid's runs with their folders under `sweep_dir`. A value in a name is spelled as
// normtrain reads it for the options of a run's identity (--l1 1e-2 and 0.01 both give 0.01)
// and as given for the others; characters other than letters, digits, '.', '+' and '-' become
// '-'. Throws a usage Error when two different runs would share a folder.
std::vector<SweepRun> name_runs(std::vector<GridPoint> points,
                                const std::filesystem::path& sweep_dir, FolderNames style);

// `text` with every character other than a letter, digit, '.', '+' or '-' replaced by '-'.
std::string folder_safe(std::string text);

}  // namespace normtrain
