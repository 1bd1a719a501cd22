#include "normtrain/cli/cli.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "normtrain/model/architecture.hpp"

namespace normtrain {
namespace {

std::optional<Command> parse_command(std::vector<std::string> args,
                                     std::string* printed = nullptr) {
  args.insert(args.begin(), "normtrain");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  auto command = parse_command_line(static_cast<int>(argv.size()), argv.data(), out);
  if (printed != nullptr) *printed = out.str();
  return command;
}

// The command line as a new training run; nullopt after --help or --version.
std::optional<TrainConfig> parse(std::vector<std::string> args, std::string* printed = nullptr) {
  const auto command = parse_command(std::move(args), printed);
  if (!command) return std::nullopt;
  return std::get<TrainConfig>(*command);
}

std::string usage_error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    return error.what();
  }
  ADD_FAILURE() << "no usage error";
  return {};
}

TEST(Cli, NoArgumentsGiveTheDefaults) {
  const auto config = parse({});
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->norm, NormKind::kBatch);
  EXPECT_EQ(config->epochs, 20);
  EXPECT_EQ(config->data_dir, "data/mnist");
}

TEST(Cli, GroupNormWithGroups) {
  const auto config =
      parse({"--norm",       "gn", "--groups", "4",   "--epochs",  "3", "--l1",          "0.001",
             "--seed",       "7",  "--device", "cpu", "--threads", "2", "--limit-train", "100",
             "--limit-test", "50", "--out",    "x",   "--quiet"});
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->norm, NormKind::kGroup);
  EXPECT_EQ(config->groups, 4);
  EXPECT_EQ(config->epochs, 3);
  EXPECT_DOUBLE_EQ(config->l1, 0.001);
  EXPECT_EQ(config->seed, 7u);
  EXPECT_EQ(config->device, "cpu");
  EXPECT_EQ(config->threads, 2);
  EXPECT_EQ(config->limit_train, 100);
  EXPECT_EQ(config->limit_test, 50);
  EXPECT_EQ(config->out_dir, "x");
  EXPECT_TRUE(config->quiet);
}

TEST(Cli, CudaGraphsDefaultToAutoAndRefuseRunsTheyCannotReplay) {
  EXPECT_EQ(parse({})->cuda_graphs, CudaGraphs::kAuto);
  EXPECT_EQ(parse({"--cuda-graphs", "on"})->cuda_graphs, CudaGraphs::kOn);
  EXPECT_EQ(parse({"--cuda-graphs", "off"})->cuda_graphs, CudaGraphs::kOff);
  EXPECT_NE(usage_error_of({"--cuda-graphs", "yes"}).find("--cuda-graphs"), std::string::npos);
  EXPECT_NE(usage_error_of({"--cuda-graphs", "on", "--scheduler", "onecycle"}).find("onecycle"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--cuda-graphs", "on", "--norm", "brn"}).find("brn"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--cuda-graphs", "on", "--dropout", "0.1"}).find("--dropout"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--cuda-graphs", "on", "--device", "cpu"}).find("--device cpu"),
            std::string::npos);
  // auto leaves such runs eager instead.
  EXPECT_EQ(parse({"--scheduler", "onecycle"})->cuda_graphs, CudaGraphs::kAuto);
}

TEST(Cli, KernelsDefaultToFused) {
  EXPECT_TRUE(parse({})->fused_kernels);
  EXPECT_FALSE(parse({"--kernels", "stock"})->fused_kernels);
}

TEST(Cli, NormsWithoutFusedKernelsDefaultToStockAndRefuseFused) {
  for (const char* norm : {"brn", "frn", "rms"}) {
    const auto config = parse({"--norm", norm});
    EXPECT_EQ(to_flag(config->norm), norm);
    EXPECT_FALSE(config->fused_kernels) << norm;
    EXPECT_FALSE(parse({"--norm", norm, "--kernels", "stock"})->fused_kernels);
    const std::string message = usage_error_of({"--norm", norm, "--kernels", "fused"});
    EXPECT_NE(message.find("--kernels fused"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("--norm ") + norm), std::string::npos) << message;
  }
  for (const char* norm : {"bn", "ln", "gn", "in", "none"}) {
    EXPECT_TRUE(parse({"--norm", norm})->fused_kernels) << norm;
  }
}

TEST(Cli, BatchRenormFlagsApplyOnlyToBatchRenorm) {
  const auto config =
      parse({"--norm", "brn", "--brn-rmax", "2", "--brn-dmax", "1.5", "--brn-warmup", "1000"});
  EXPECT_DOUBLE_EQ(config->batch_renorm.r_max, 2.0);
  EXPECT_DOUBLE_EQ(config->batch_renorm.d_max, 1.5);
  EXPECT_EQ(config->batch_renorm.warmup, 1000);
  const auto defaults = parse({"--norm", "brn"});
  EXPECT_DOUBLE_EQ(defaults->batch_renorm.r_max, 3.0);
  EXPECT_DOUBLE_EQ(defaults->batch_renorm.d_max, 5.0);
  EXPECT_EQ(defaults->batch_renorm.warmup, 500);
  for (const char* flag : {"--brn-rmax", "--brn-dmax", "--brn-warmup"}) {
    const std::string message = usage_error_of({"--norm", "bn", flag, "2"});
    EXPECT_NE(message.find(std::string(flag) + " applies only to --norm brn"), std::string::npos)
        << message;
    EXPECT_NE(usage_error_of({flag, "2"}).find(flag), std::string::npos);
  }
  EXPECT_NE(usage_error_of({"--norm", "brn", "--brn-rmax", "0.5"}).find("--brn-rmax"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--norm", "brn", "--brn-dmax", "-1"}).find("--brn-dmax"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--norm", "brn", "--brn-warmup", "-1"}).find("--brn-warmup"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--resume", "x", "--brn-rmax", "2"}).find("--brn-rmax"),
            std::string::npos);
}

TEST(Cli, WeightStandardizationGoesWithAnyNorm) {
  EXPECT_FALSE(parse({})->weight_standardization);
  for (const char* norm : {"bn", "ln", "gn", "in", "none", "brn", "frn", "rms"}) {
    EXPECT_TRUE(parse({"--norm", norm, "--weight-standardization"})->weight_standardization)
        << norm;
  }
  EXPECT_NE(usage_error_of({"--resume", "x", "--weight-standardization"})
                .find("--weight-standardization"),
            std::string::npos);
}

TEST(Cli, SchedulerFlags) {
  const auto config = parse({"--scheduler", "onecycle", "--max-lr", "0.05", "--pct-start", "0.2"});
  EXPECT_EQ(config->schedule.kind, SchedulerKind::kOneCycle);
  EXPECT_DOUBLE_EQ(config->schedule.max_lr, 0.05);
  EXPECT_DOUBLE_EQ(config->schedule.pct_start, 0.2);
  EXPECT_EQ(
      parse({"--scheduler", "step", "--step-size", "5", "--gamma", "0.5"})->schedule.step_size, 5);
  EXPECT_NE(usage_error_of({"--gamma", "0.5"}).find("--scheduler step"), std::string::npos);
  EXPECT_NE(usage_error_of({"--scheduler", "step", "--max-lr", "0.1"}).find("--scheduler onecycle"),
            std::string::npos);
  usage_error_of({"--scheduler", "cosine"});
  EXPECT_NE(usage_error_of({"--resume", "x", "--scheduler", "step"}).find("--scheduler"),
            std::string::npos);
}

TEST(Cli, DatasetPicksItsDefaultDataDir) {
  const auto fashion = parse({"--dataset", "fashion-mnist"});
  EXPECT_EQ(fashion->dataset, DatasetKind::kFashionMnist);
  EXPECT_EQ(fashion->data_dir, default_data_dir(DatasetKind::kFashionMnist));
  EXPECT_EQ(parse({"--dataset", "fashion-mnist", "--data-dir", "x"})->data_dir, "x");
  usage_error_of({"--dataset", "cifar10"});
}

TEST(Cli, InstanceAndNoNorm) {
  EXPECT_EQ(parse({"--norm", "in"})->norm, NormKind::kInstance);
  EXPECT_EQ(parse({"--norm", "none"})->norm, NormKind::kNone);
  usage_error_of({"--norm", "in", "--groups", "2"});
}

TEST(Cli, GroupNormDefaultsToEightGroups) {
  EXPECT_EQ(parse({"--norm", "gn"})->groups, 8);
}

TEST(Cli, GroupsWithOtherNormsIsAUsageError) {
  EXPECT_NE(usage_error_of({"--norm", "bn", "--groups", "8"}).find("--groups"), std::string::npos);
  EXPECT_NE(usage_error_of({"--norm", "ln", "--groups", "2"}).find("--groups"), std::string::npos);
}

TEST(Cli, InvalidGroupsNameTheValidOnes) {
  EXPECT_NE(usage_error_of({"--norm", "gn", "--groups", "3"}).find("1, 2, 4 or 8"),
            std::string::npos);
}

TEST(Cli, BadFlagsAndValuesAreUsageErrors) {
  usage_error_of({"--norm", "xn"});
  usage_error_of({"--no-such-flag"});
  usage_error_of({"--epochs", "many"});
  usage_error_of({"--epochs", "0"});
  usage_error_of({"--batch-size", "-1"});
  usage_error_of({"--lr", "-0.5"});
  usage_error_of({"--seed", "-1"});
  usage_error_of({"--device", "gpu"});
  usage_error_of({"stray-positional"});
  usage_error_of({"--misclassified", "-1"});
  usage_error_of({"--kernels", "fast"});
  EXPECT_NE(usage_error_of({"--diagnostics-every", "-5"}).find("--diagnostics-every"),
            std::string::npos);
}

TEST(Cli, ResumeTakesOnlyFlagsThatKeepTheResults) {
  const auto command = parse_command({"--resume", "runs/gn-8", "--epochs", "30", "--threads", "1"});
  ASSERT_TRUE(command.has_value());
  const auto& request = std::get<ResumeRequest>(*command);
  EXPECT_EQ(request.path, "runs/gn-8");
  EXPECT_EQ(request.epochs, 30);
  EXPECT_EQ(request.threads, 1);
  EXPECT_FALSE(request.device.has_value());
  EXPECT_NE(usage_error_of({"--resume", "x", "--lr", "0.1"}).find("--lr"), std::string::npos);
  EXPECT_NE(usage_error_of({"--resume", "x", "--norm", "ln"}).find("--norm"), std::string::npos);
  usage_error_of({"--resume", "x", "--epochs", "0"});
  // Diagnostics observe a run without changing it: a resumed run may change their cadence.
  const auto diagnostics = parse_command({"--resume", "x", "--diagnostics-every", "5"});
  ASSERT_TRUE(diagnostics.has_value());
  EXPECT_EQ(std::get<ResumeRequest>(*diagnostics).diagnostics_every, 5);
  TrainConfig saved;
  ResumeRequest more_often;
  more_often.diagnostics_every = 5;
  EXPECT_EQ(apply_resume_request(saved, more_often).diagnostics_every, 5);
  EXPECT_EQ(apply_resume_request(saved, {}).diagnostics_every, kDefaultDiagnosticsEvery);
}

TEST(Cli, LandscapeProbesTakeACadenceAndStepSizes) {
  const auto command = parse_command({"--landscape-every", "100", "--landscape-steps", "0,0.25,8"});
  ASSERT_TRUE(command.has_value());
  const auto& config = std::get<TrainConfig>(*command);
  EXPECT_EQ(config.landscape_every, 100);
  EXPECT_EQ(config.landscape_steps, (std::vector<double>{0.0, 0.25, 8.0}));
  const auto defaults = parse_command({});
  EXPECT_EQ(std::get<TrainConfig>(*defaults).landscape_every, 0);
  EXPECT_EQ(std::get<TrainConfig>(*defaults).landscape_steps, kDefaultLandscapeSteps);
  // Step sizes alone would probe nothing: refused, not ignored.
  EXPECT_NE(usage_error_of({"--landscape-steps", "1,2"}).find("--landscape-every"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--landscape-every", "-1"}).find("--landscape-every"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--landscape-every", "5", "--landscape-steps", "1,-2"})
                .find("--landscape-steps"),
            std::string::npos);
  usage_error_of({"--landscape-every", "5", "--landscape-steps", "1,nan"});
  usage_error_of({"--landscape-every", "5", "--landscape-steps", "one"});
  usage_error_of({"--landscape-every", "5", "--landscape-steps", ""});
  // A probe changes nothing a run computes: a resumed run may start, stop or change them.
  const auto resumed =
      parse_command({"--resume", "x", "--landscape-every", "50", "--landscape-steps", "1"});
  ASSERT_TRUE(resumed.has_value());
  TrainConfig saved;
  const TrainConfig merged = apply_resume_request(saved, std::get<ResumeRequest>(*resumed));
  EXPECT_EQ(merged.landscape_every, 50);
  EXPECT_EQ(merged.landscape_steps, std::vector<double>{1.0});
}

TEST(Cli, ResumeRequestOverridesTheSavedConfiguration) {
  TrainConfig saved;
  saved.norm = NormKind::kLayer;
  saved.epochs = 5;
  saved.lr = 0.02;
  ResumeRequest request;
  request.epochs = 8;
  request.device = "cpu";
  const TrainConfig merged = apply_resume_request(saved, request);
  EXPECT_EQ(merged.epochs, 8);
  EXPECT_EQ(merged.device, "cpu");
  EXPECT_EQ(merged.norm, NormKind::kLayer);
  EXPECT_DOUBLE_EQ(merged.lr, 0.02);
  EXPECT_EQ(apply_resume_request(saved, {}).epochs, 5);
}

TEST(Cli, PredictAndEvalSubcommands) {
  const auto predict = parse_command({"predict", "--checkpoint", "runs/gn-8", "a.png", "b.jpg",
                                      "--json", "--colors", "black-on-white"});
  const auto& p = std::get<PredictRequest>(*predict);
  EXPECT_EQ(p.checkpoint, "runs/gn-8");
  EXPECT_EQ(p.images, (std::vector<std::string>{"a.png", "b.jpg"}));
  EXPECT_TRUE(p.json);
  EXPECT_EQ(p.polarity, Polarity::kBlackOnWhite);

  const auto eval = parse_command({"eval", "--checkpoint", "runs/ln", "--limit-test", "500"});
  const auto& e = std::get<EvalRequest>(*eval);
  EXPECT_EQ(e.checkpoint, "runs/ln");
  EXPECT_EQ(e.limit_test, 500);
  EXPECT_FALSE(e.data_dir.has_value());
  EXPECT_EQ(e.precise_bn, 0);
  const auto precise = parse_command({"eval", "--checkpoint", "runs/bn", "--precise-bn", "2000"});
  EXPECT_EQ(std::get<EvalRequest>(*precise).precise_bn, 2000);
  usage_error_of({"eval", "--checkpoint", "x", "--precise-bn", "-1"});

  usage_error_of({"predict", "a.png"});              // no --checkpoint
  usage_error_of({"predict", "--checkpoint", "x"});  // no image
  usage_error_of({"--norm", "gn", "predict", "--checkpoint", "x", "a.png"});
  usage_error_of({"eval", "--checkpoint", "x", "--colors", "auto"});
  // Training: --precise-bn only where there are running statistics.
  EXPECT_EQ(parse({"--norm", "brn", "--precise-bn", "1000"})->precise_bn, 1000);
  EXPECT_NE(usage_error_of({"--norm", "gn", "--precise-bn", "1000"}).find("running statistics"),
            std::string::npos);
  // Training without a subcommand is unchanged.
  EXPECT_EQ(parse({"--norm", "gn", "--groups", "4"})->groups, 4);
}

TEST(Cli, HelpAndVersionPrintAndStop) {
  std::string printed;
  EXPECT_FALSE(parse({"--help"}, &printed).has_value());
  EXPECT_NE(printed.find("--groups"), std::string::npos);
  EXPECT_FALSE(parse({"--version"}, &printed).has_value());
  EXPECT_EQ(printed.rfind("normtrain ", 0), 0u);
}

TEST(Cli, ExistingRunPolicyAndDryRun) {
  EXPECT_EQ(parse({})->existing_run, ExistingRunPolicy::kRefuse);
  EXPECT_EQ(parse({"--overwrite"})->existing_run, ExistingRunPolicy::kOverwrite);
  EXPECT_EQ(parse({"--continue"})->existing_run, ExistingRunPolicy::kContinue);
  EXPECT_TRUE(parse({"--dry-run"})->dry_run);
  EXPECT_NE(usage_error_of({"--overwrite", "--continue"}).find("contradict"), std::string::npos);
  for (const char* flag : {"--overwrite", "--continue", "--dry-run"}) {
    EXPECT_NE(usage_error_of({"--resume", "x", flag}).find(flag), std::string::npos) << flag;
  }
}

TEST(Cli, EveryFlagGivenTakesEffectOrIsRefused) {
  // One-cycle's rates come from --max-lr: a --lr would be ignored.
  EXPECT_NE(usage_error_of({"--scheduler", "onecycle", "--lr", "0.05"}).find("--max-lr"),
            std::string::npos);
  EXPECT_NO_THROW(parse({"--scheduler", "onecycle", "--max-lr", "0.05"}));
  EXPECT_NE(usage_error_of({"--mirror", "file:///m", "--no-download"}).find("--mirror"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--verify-data", "--norm", "ln"}).find("--norm"), std::string::npos);
  EXPECT_NE(usage_error_of({"--verify-data", "--out", "x"}).find("--out"), std::string::npos);
  EXPECT_NO_THROW(parse({"--verify-data", "--data-dir", "d", "--dataset", "fashion-mnist"}));
  EXPECT_NE(usage_error_of({"--device", "cuda", "--kernels", "fused"}).find("--kernels"),
            std::string::npos);
  EXPECT_NO_THROW(parse({"--device", "cuda", "--kernels", "stock"}));
}

TEST(Cli, ResumeNamesTheFlagsItTakesFromTheOptionTable) {
  const std::string message = usage_error_of({"--resume", "x", "--seed", "2"});
  EXPECT_NE(message.find("--seed cannot be given with --resume"), std::string::npos);
  for (const char* changeable : {"--epochs", "--threads", "--device", "--data-dir", "--quiet"}) {
    EXPECT_NE(message.find(changeable), std::string::npos) << changeable;
  }
  EXPECT_EQ(message.find("--lr,"), std::string::npos);
}

TEST(Cli, EnumOptionsTakeExactlyTheirSpellings) {
  EXPECT_EQ(parse({"--norm", "ln"})->norm, NormKind::kLayer);
  EXPECT_EQ(parse({"--scheduler", "onecycle"})->schedule.kind, SchedulerKind::kOneCycle);
  EXPECT_EQ(parse({"--dataset", "fashion-mnist"})->dataset, DatasetKind::kFashionMnist);
  EXPECT_FALSE(parse({"--kernels", "stock"})->fused_kernels);
  // The enums' numbers are not spellings.
  EXPECT_NE(usage_error_of({"--norm", "2"}).find("not in {bn,ln,gn,in,none,brn,frn,rms}"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"--kernels", "1"}).find("--kernels"), std::string::npos);
  EXPECT_NE(usage_error_of({"--scheduler", "0"}).find("--scheduler"), std::string::npos);
}

TEST(Cli, GroupCountsComeFromTheModelsChannels) {
  EXPECT_EQ(valid_group_counts(), (std::vector<int>{1, 2, 4, 8}));
  EXPECT_NE(usage_error_of({"--norm", "gn", "--groups", "16"})
                .find("does not divide the channel counts 8, 24 and 16; use 1, 2, 4 or 8"),
            std::string::npos);
}

TEST(Cli, ExportSubcommand) {
  const auto plain = parse_command({"export", "--checkpoint", "runs/gn-8", "--out", "gn.st"});
  const auto& request = std::get<ExportRequest>(*plain);
  EXPECT_EQ(request.checkpoint, "runs/gn-8");
  EXPECT_EQ(request.out, "gn.st");
  EXPECT_EQ(request.format, ExportFormat::kSafetensors);
  const auto scripted = parse_command(
      {"export", "--checkpoint", "runs/ln", "--format", "torchscript", "--out", "ln.pt"});
  EXPECT_EQ(std::get<ExportRequest>(*scripted).format, ExportFormat::kTorchScript);

  EXPECT_NE(usage_error_of({"export", "--checkpoint", "x", "--out", "y", "--format", "onnx"})
                .find("--format"),
            std::string::npos);
  EXPECT_NE(usage_error_of({"export", "--checkpoint", "x"}).find("--out"), std::string::npos);
  EXPECT_NE(usage_error_of({"export", "--out", "y"}).find("--checkpoint"), std::string::npos);
  EXPECT_NE(usage_error_of({"--norm", "gn", "export", "--checkpoint", "x", "--out", "y"})
                .find("--norm is a training option; it cannot be given with the export"),
            std::string::npos);
}

}  // namespace
}  // namespace normtrain
