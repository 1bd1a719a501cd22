#include "normtrain/cli/config_json.hpp"

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

TEST(ConfigJson, RoundTripsEveryField) {
  TrainConfig config;
  config.norm = NormKind::kGroup;
  config.groups = 2;
  config.l1 = 0.005;
  config.epochs = 7;
  config.batch_size = 64;
  config.lr = 0.03;
  config.momentum = 0.8;
  config.dropout = 0.1;
  config.seed = 12345678901234ULL;
  config.device = "cuda:1";
  config.threads = 3;
  config.data_dir = "some/where";
  config.limit_train = 1000;
  config.limit_test = 100;
  config.misclassified = 20;
  config.diagnostics_every = 7;
  config.landscape_every = 9;
  config.landscape_steps = {0.25, 3.0};
  config.cuda_graphs = CudaGraphs::kOff;
  config.out_dir = "runs/x";
  config.fused_kernels = false;
  config.schedule.kind = SchedulerKind::kStep;
  config.schedule.step_size = 4;
  config.schedule.gamma = 0.3;
  config.schedule.max_lr = 0.2;
  const TrainConfig back = config_from_json_text(config_to_json_text(config), "test");
  EXPECT_EQ(back.norm, config.norm);
  EXPECT_EQ(back.groups, 2);
  EXPECT_DOUBLE_EQ(back.l1, 0.005);
  EXPECT_EQ(back.epochs, 7);
  EXPECT_EQ(back.batch_size, 64);
  EXPECT_DOUBLE_EQ(back.lr, 0.03);
  EXPECT_DOUBLE_EQ(back.momentum, 0.8);
  EXPECT_DOUBLE_EQ(back.dropout, 0.1);
  EXPECT_EQ(back.seed, 12345678901234ULL);
  EXPECT_EQ(back.device, "cuda:1");
  EXPECT_EQ(back.threads, 3);
  EXPECT_EQ(back.data_dir, "some/where");
  EXPECT_EQ(back.limit_train, 1000);
  EXPECT_EQ(back.limit_test, 100);
  EXPECT_EQ(back.misclassified, 20);
  EXPECT_EQ(back.diagnostics_every, 7);
  EXPECT_EQ(back.landscape_every, 9);
  EXPECT_EQ(back.landscape_steps, (std::vector<double>{0.25, 3.0}));
  EXPECT_EQ(back.cuda_graphs, CudaGraphs::kOff);
  EXPECT_EQ(back.out_dir, "runs/x");
  EXPECT_FALSE(back.fused_kernels);
  EXPECT_EQ(back.schedule.kind, SchedulerKind::kStep);
  EXPECT_EQ(back.schedule.step_size, 4);
  EXPECT_DOUBLE_EQ(back.schedule.gamma, 0.3);
  EXPECT_DOUBLE_EQ(back.schedule.max_lr, 0.2);
}

TEST(ConfigJson, RoundTripsBatchRenormAndWeightStandardization) {
  TrainConfig config;
  config.norm = NormKind::kBatchRenorm;
  config.fused_kernels = false;
  config.batch_renorm = {2.5, 1.25, 1234};
  config.weight_standardization = true;
  const std::string text = config_to_json_text(config);
  EXPECT_NE(text.find("\"weight_standardization\": true"), std::string::npos) << text;
  EXPECT_NE(text.find("\"kernels\": \"stock\""), std::string::npos) << text;
  const TrainConfig back = config_from_json_text(text, "test");
  EXPECT_EQ(back.norm, NormKind::kBatchRenorm);
  EXPECT_DOUBLE_EQ(back.batch_renorm.r_max, 2.5);
  EXPECT_DOUBLE_EQ(back.batch_renorm.d_max, 1.25);
  EXPECT_EQ(back.batch_renorm.warmup, 1234);
  EXPECT_TRUE(back.weight_standardization);
  EXPECT_FALSE(back.fused_kernels);
  EXPECT_TRUE(identity_differences(config, back).empty());
  for (NormKind norm : {NormKind::kFilterResponse, NormKind::kRms}) {
    config.norm = norm;
    EXPECT_EQ(config_from_json_text(config_to_json_text(config), "test").norm, norm);
  }
}

TEST(ConfigJson, RunsSavedBeforeTheNewOptionsReadAsPlainRuns) {
  // A configuration written before batch renormalization and weight standardization existed.
  const TrainConfig old = config_from_json_text(
      R"({"norm": "gn", "groups": 8, "l1": 0, "epochs": 20, "kernels": "fused"})", "old.pt");
  EXPECT_FALSE(old.weight_standardization);
  TrainConfig gn;
  gn.norm = NormKind::kGroup;
  EXPECT_TRUE(identity_differences(gn, old).empty());
}

TEST(ConfigJson, BatchRenormIsNullUnlessBatchRenorm) {
  TrainConfig config;
  EXPECT_NE(config_to_json_text(config).find("\"batch_renorm\": null"), std::string::npos);
}

TEST(ConfigJson, GroupsAreNullUnlessGroupNorm) {
  TrainConfig config;
  config.norm = NormKind::kLayer;
  EXPECT_NE(config_to_json_text(config).find("\"groups\": null"), std::string::npos);
}

TEST(ConfigJson, MalformedTextNamesItsSource) {
  for (const char* text : {"", "{", "[]", "{\"norm\": \"xn\"}", "{\"norm\": 3}"}) {
    try {
      config_from_json_text(text, "some.pt");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("some.pt"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace normtrain
