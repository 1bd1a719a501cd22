#include "normtrain/cli/config.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

TEST(Config, DefaultsReproduceTheRecipe) {
  const TrainConfig config;
  EXPECT_EQ(config.norm, NormKind::kBatch);
  EXPECT_EQ(config.epochs, 20);
  EXPECT_EQ(config.batch_size, 128);
  EXPECT_DOUBLE_EQ(config.lr, 0.01);
  EXPECT_DOUBLE_EQ(config.momentum, 0.9);
  EXPECT_DOUBLE_EQ(config.dropout, 0.0);
  EXPECT_DOUBLE_EQ(config.l1, 0.0);
  EXPECT_EQ(config.seed, 1u);
  EXPECT_NO_THROW(validate(config));
}

TEST(Config, GroupCountsMustDivideEveryBlock) {
  TrainConfig config;
  config.norm = NormKind::kGroup;
  for (int groups : {1, 2, 4, 8}) {
    config.groups = groups;
    EXPECT_NO_THROW(validate(config)) << groups;
  }
  for (int groups : {0, -1, 3, 5, 6, 12, 16, 24}) {
    config.groups = groups;
    try {
      validate(config);
      ADD_FAILURE() << "groups " << groups << " accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(error.what()).find("1, 2, 4 or 8"), std::string::npos);
    }
  }
}

TEST(Config, RejectsOutOfRangeValuesAsUsageErrors) {
  const auto expect_usage_error = [](auto mutate, const std::string& flag) {
    TrainConfig config;
    mutate(config);
    try {
      validate(config);
      ADD_FAILURE() << flag << " accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(error.what()).find(flag), std::string::npos) << error.what();
    }
  };
  expect_usage_error([](TrainConfig& c) { c.epochs = 0; }, "--epochs");
  expect_usage_error([](TrainConfig& c) { c.batch_size = -3; }, "--batch-size");
  expect_usage_error([](TrainConfig& c) { c.lr = -0.1; }, "--lr");
  expect_usage_error([](TrainConfig& c) { c.l1 = -1; }, "--l1");
  expect_usage_error([](TrainConfig& c) { c.momentum = 1.5; }, "--momentum");
  expect_usage_error([](TrainConfig& c) { c.dropout = 1.0; }, "--dropout");
  expect_usage_error([](TrainConfig& c) { c.threads = -2; }, "--threads");
  expect_usage_error([](TrainConfig& c) { c.device = "tpu"; }, "--device");
  expect_usage_error([](TrainConfig& c) { c.device = "cuda:"; }, "--device");
  expect_usage_error([](TrainConfig& c) { c.device = "cuda:99999999999"; }, "--device");
  expect_usage_error([](TrainConfig& c) { c.threads = 100000; }, "--threads");
  expect_usage_error([](TrainConfig& c) { c.lr = INFINITY; }, "--lr");
  expect_usage_error([](TrainConfig& c) { c.l1 = NAN; }, "--l1");
  expect_usage_error([](TrainConfig& c) { c.limit_test = -1; }, "--limit-test");
}

TEST(Config, DeviceSpellings) {
  TrainConfig config;
  for (const char* device : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    config.device = device;
    EXPECT_NO_THROW(validate(config)) << device;
  }
}

TEST(Config, VariantNamesForTheThreeStudiedVariants) {
  TrainConfig bn;
  bn.l1 = 0.01;
  EXPECT_EQ(variant_slug(bn), "bn-l1-0.01");
  EXPECT_EQ(variant_label(bn), "BN + L1 0.01");
  EXPECT_EQ(resolved_out_dir(bn), "runs/bn-l1-0.01");

  TrainConfig ln;
  ln.norm = NormKind::kLayer;
  EXPECT_EQ(variant_slug(ln), "ln");
  EXPECT_EQ(variant_label(ln), "LN");

  TrainConfig gn;
  gn.norm = NormKind::kGroup;
  gn.groups = 8;
  EXPECT_EQ(variant_slug(gn), "gn-8");
  EXPECT_EQ(variant_label(gn), "GN (8 groups)");
  gn.out_dir = "elsewhere";
  EXPECT_EQ(resolved_out_dir(gn), "elsewhere");
}

TEST(Config, ScheduleIsPartOfTheVariantName) {
  TrainConfig config;
  config.norm = NormKind::kGroup;
  config.schedule.kind = SchedulerKind::kOneCycle;
  config.schedule.max_lr = 0.05;
  EXPECT_EQ(variant_slug(config), "gn-8-onecycle");
  EXPECT_EQ(variant_label(config), "GN (8 groups), one-cycle LR (max 0.05)");
  config.norm = NormKind::kInstance;
  config.schedule.kind = SchedulerKind::kNone;
  EXPECT_EQ(variant_label(config), "IN");
}

TEST(Config, ScheduleValuesAreValidated) {
  TrainConfig config;
  config.schedule.pct_start = 1.0;
  EXPECT_THROW(validate(config), Error);
  config = TrainConfig{};
  config.schedule.step_size = 0;
  EXPECT_THROW(validate(config), Error);
}

TEST(Config, NormFlagsRoundTrip) {
  for (NormKind norm :
       {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup, NormKind::kInstance, NormKind::kNone,
        NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms}) {
    EXPECT_EQ(norm_from_flag(to_flag(norm)), norm);
  }
  EXPECT_EQ(to_flag(NormKind::kBatchRenorm), "brn");
  EXPECT_EQ(to_flag(NormKind::kFilterResponse), "frn");
  EXPECT_EQ(to_flag(NormKind::kRms), "rms");
  EXPECT_FALSE(norm_from_flag("xn").has_value());
}

TEST(Config, NewNormsAndWeightStandardizationNameTheirFolders) {
  TrainConfig config;
  config.fused_kernels = false;
  config.norm = NormKind::kBatchRenorm;
  EXPECT_EQ(resolved_out_dir(config), "runs/brn");
  EXPECT_EQ(variant_label(config), "BRN");
  config.norm = NormKind::kFilterResponse;
  EXPECT_EQ(resolved_out_dir(config), "runs/frn");
  EXPECT_EQ(variant_label(config), "FRN");
  config.norm = NormKind::kRms;
  EXPECT_EQ(resolved_out_dir(config), "runs/rms");
  EXPECT_EQ(variant_label(config), "RMS norm");
  config.norm = NormKind::kGroup;
  config.weight_standardization = true;
  config.l1 = 0.01;
  EXPECT_EQ(resolved_out_dir(config), "runs/gn-8-ws-l1-0.01");
  EXPECT_EQ(variant_label(config), "GN (8 groups) + WS + L1 0.01");
  config.l1 = 0.0;
  EXPECT_EQ(resolved_out_dir(config), "runs/gn-8-ws");
}

TEST(Config, BatchRenormLimitsAndKernelsAreValidated) {
  TrainConfig config;
  config.norm = NormKind::kBatchRenorm;
  config.fused_kernels = false;
  EXPECT_NO_THROW(validate(config));
  config.batch_renorm = {1.0, 0.0, 0};  // batch normalization, from the first step
  EXPECT_NO_THROW(validate(config));
  for (const BatchRenormSpec& bad :
       {BatchRenormSpec{0.9, 5.0, 500}, BatchRenormSpec{3.0, -0.1, 500},
        BatchRenormSpec{3.0, 5.0, -1}, BatchRenormSpec{NAN, 5.0, 500}}) {
    config.batch_renorm = bad;
    EXPECT_THROW(validate(config), Error) << bad.r_max << " " << bad.d_max << " " << bad.warmup;
  }
  config.batch_renorm = {};
  for (NormKind norm : {NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms}) {
    config.norm = norm;
    config.fused_kernels = true;
    EXPECT_FALSE(has_fused_kernels(norm));
    try {
      validate(config);
      ADD_FAILURE() << "fused kernels accepted for " << to_flag(norm);
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(error.what()).find("--kernels fused"), std::string::npos);
    }
  }
}

TEST(Config, BatchRenormLimitsAndWeightStandardizationArePartOfTheIdentity) {
  TrainConfig saved;
  saved.norm = NormKind::kBatchRenorm;
  saved.fused_kernels = false;
  TrainConfig requested = saved;
  requested.batch_renorm.r_max = 2.0;
  requested.batch_renorm.warmup = 0;
  requested.weight_standardization = true;
  const std::vector<std::string> differences = identity_differences(saved, requested);
  ASSERT_EQ(differences.size(), 3u);
  EXPECT_EQ(differences[0], "--brn-rmax 3 (saved) vs 2 (requested)");
  EXPECT_EQ(differences[1], "--brn-warmup 500 (saved) vs 0 (requested)");
  EXPECT_EQ(differences[2], "--weight-standardization false (saved) vs true (requested)");
  // The limits are no part of other norms' runs.
  TrainConfig gn;
  gn.norm = NormKind::kGroup;
  TrainConfig gn_other = gn;
  gn_other.batch_renorm.r_max = 2.0;
  EXPECT_TRUE(identity_differences(gn, gn_other).empty());
  EXPECT_THROW(check_identity_flags_apply(gn, {"--brn-dmax"}), Error);
  EXPECT_NO_THROW(check_identity_flags_apply(saved, {"--brn-dmax", "--weight-standardization"}));
  EXPECT_NO_THROW(check_identity_flags_apply(gn, {"--weight-standardization"}));
}

TEST(Config, DefaultFolderNamesTheSeedWhenItIsNotOne) {
  TrainConfig config;
  config.norm = NormKind::kGroup;
  EXPECT_EQ(resolved_out_dir(config), "runs/gn-8");
  config.seed = 2;
  EXPECT_EQ(resolved_out_dir(config), "runs/gn-8-seed-2");
  config.out_dir = "elsewhere";
  EXPECT_EQ(resolved_out_dir(config), "elsewhere");
}

TEST(Config, IdentityLeavesOutTheEnvironmentAndOptionsThatDoNotApply) {
  TrainConfig config;
  std::vector<std::string> flags;
  for (const IdentityFlag& flag : identity_flags(config)) flags.push_back(flag.flag);
  for (const char* absent : {"--groups", "--step-size", "--max-lr", "--device", "--threads",
                             "--data-dir", "--epochs", "--out", "--quiet"}) {
    EXPECT_EQ(std::count(flags.begin(), flags.end(), absent), 0) << absent;
  }
  for (const char* present : {"--norm", "--lr", "--seed", "--batch-size", "--kernels"}) {
    EXPECT_EQ(std::count(flags.begin(), flags.end(), present), 1) << present;
  }
  config.norm = NormKind::kGroup;
  config.schedule.kind = SchedulerKind::kOneCycle;
  flags.clear();
  for (const IdentityFlag& flag : identity_flags(config)) flags.push_back(flag.flag);
  EXPECT_EQ(std::count(flags.begin(), flags.end(), "--groups"), 1);
  EXPECT_EQ(std::count(flags.begin(), flags.end(), "--max-lr"), 1);
  // One-cycle takes no --lr, so a different --lr is not a different run.
  EXPECT_EQ(std::count(flags.begin(), flags.end(), "--lr"), 0);
}

TEST(Config, IdentityDifferencesNameEachFlagWithBothValues) {
  TrainConfig saved;
  TrainConfig requested = saved;
  requested.device = "cuda";
  requested.threads = 7;
  requested.data_dir = "/elsewhere";
  requested.quiet = true;
  requested.misclassified = 3;
  requested.diagnostics_every = 0;
  EXPECT_TRUE(identity_differences(saved, requested).empty());
  requested.lr = 0.05;
  requested.seed = 4;
  const std::vector<std::string> differences = identity_differences(saved, requested);
  ASSERT_EQ(differences.size(), 2u);
  EXPECT_EQ(differences[0], "--lr 0.01 (saved) vs 0.05 (requested)");
  EXPECT_EQ(differences[1], "--seed 1 (saved) vs 4 (requested)");
  // "1e-2" and "0.01" are the same number, so the same run.
  TrainConfig l1 = saved;
  l1.l1 = 1e-2;
  TrainConfig l1_again = saved;
  l1_again.l1 = 0.01;
  EXPECT_TRUE(identity_differences(l1, l1_again).empty());
}

TEST(Config, DegenerateDesignsAreAnnounced) {
  TrainConfig config;
  config.norm = NormKind::kLayer;
  EXPECT_TRUE(design_warnings(config, 60000).empty());
  config.norm = NormKind::kInstance;
  ASSERT_EQ(design_warnings(config, 60000).size(), 1u);
  EXPECT_NE(design_warnings(config, 60000)[0].find("average pool"), std::string::npos);
  config.norm = NormKind::kLayer;
  config.batch_size = 512;
  ASSERT_EQ(design_warnings(config, 100).size(), 1u);
  EXPECT_NE(design_warnings(config, 100)[0].find("--batch-size 512"), std::string::npos);
  config.norm = NormKind::kBatch;
  config.batch_size = 1;
  ASSERT_EQ(design_warnings(config, 100).size(), 1u);
  EXPECT_NE(design_warnings(config, 100)[0].find("running averages"), std::string::npos);
}

}  // namespace
}  // namespace normtrain
