#include "normtrain/commands/sweep/run_naming.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

using Words = std::vector<std::string>;

std::vector<SweepRun> named(const Words& grid, FolderNames style = FolderNames::kVaryingFlags) {
  return name_runs(expand_grids(parse_grids(grid)), "sweeps/a", style);
}

Words names_of(const Words& grid, FolderNames style = FolderNames::kVaryingFlags) {
  Words names;
  for (const SweepRun& run : named(grid, style)) names.push_back(run.name);
  return names;
}

TEST(SweepRunNaming, VariantThenTheFlagsThatVary) {
  EXPECT_EQ(names_of({"--norm", "bn,gn", "--groups", "2,8", "--seed", "1,2", "--epochs", "1"}),
            (Words{"bn_seed-1", "bn_seed-2", "gn-2_seed-1", "gn-2_seed-2", "gn-8_seed-1",
                   "gn-8_seed-2"}));
  EXPECT_EQ(names_of({"--norm", "in,gn", "--groups", "4", "--scheduler", "none,step", "--gamma",
                      "0.1,0.5"}),
            (Words{"in", "in-step_gamma-0.1", "in-step_gamma-0.5", "gn-4", "gn-4-step_gamma-0.1",
                   "gn-4-step_gamma-0.5"}));
  EXPECT_EQ(names_of({"--norm", "bn", "--l1", "0.01", "--lr", "0.05,0.1", "--seed", "1,2"}),
            (Words{"bn-l1-0.01_lr-0.05_seed-1", "bn-l1-0.01_lr-0.05_seed-2",
                   "bn-l1-0.01_lr-0.1_seed-1", "bn-l1-0.01_lr-0.1_seed-2"}));
}

TEST(SweepRunNaming, NumbersAreSpelledAsNormtrainReadsThem) {
  EXPECT_EQ(names_of({"--norm", "bn", "--l1", "1e-2"}), (Words{"bn-l1-0.01"}));
  EXPECT_EQ(names_of({"--lr", "1e-2,5e-2"}), (Words{"bn_lr-0.01", "bn_lr-0.05"}));
  const std::vector<SweepRun> runs = named({"--norm", "ln", "--data-dir", "a b,c"});
  EXPECT_EQ(runs[0].name, "ln_data-dir-a-b");
  EXPECT_EQ(runs[1].dir, std::filesystem::path("sweeps/a/ln_data-dir-c"));
  EXPECT_EQ(runs[1].config.out_dir, "sweeps/a/ln_data-dir-c");
  EXPECT_EQ(runs[1].config.existing_run, ExistingRunPolicy::kContinue);
}

TEST(SweepRunNaming, TwoRunsThatWouldShareAFolderAreRefused) {
  try {
    named({"--norm", "bn", "--l1", "0,0.0"});
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(error.what()).find("would share the folder 'bn'"), std::string::npos)
        << error.what();
  }
}

TEST(SweepRunNaming, NormtrainsDefaultNames) {
  EXPECT_EQ(names_of({"--norm", "bn", "--l1", "0.01", "--seed", "1,2", "--", "--norm", "gn",
                      "--seed", "1,3"},
                     FolderNames::kNormtrainDefault),
            (Words{"bn-l1-0.01", "bn-l1-0.01-seed-2", "gn-8", "gn-8-seed-3"}));
  EXPECT_THROW(named({"--norm", "ln", "--lr", "0.01,0.05"}, FolderNames::kNormtrainDefault), Error);
}

TEST(SweepRunNaming, FolderSafe) {
  EXPECT_EQ(folder_safe("a/b c:1.5+x-y"), "a-b-c-1.5+x-y");
}

}  // namespace
}  // namespace normtrain
