#include "normtrain/cli/cli.hpp"

#include <algorithm>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "normtrain/common/error.hpp"
#include "normtrain/version.hpp"

namespace normtrain {

namespace {

// Flags a resumed run cannot take besides its identity: they choose or replace the run.
constexpr const char* kRunChoiceFlags[] = {"--out", "--verify-data", "--overwrite", "--continue",
                                           "--dry-run"};

bool fixed_on_resume(const std::string& flag) {
  const std::vector<std::string>& identity = identity_flag_names();
  return std::find(identity.begin(), identity.end(), flag) != identity.end() ||
         std::find(std::begin(kRunChoiceFlags), std::end(kRunChoiceFlags), flag) !=
             std::end(kRunChoiceFlags);
}

// The options --resume may change, for its error message: every option not fixed on resume.
std::string changeable_on_resume(const CLI::App& app) {
  std::vector<std::string> flags;
  for (const CLI::Option* option : app.get_options()) {
    const std::string name = option->get_name(false, true);
    if (name.rfind("--", 0) != 0 || fixed_on_resume(name) || name == "--resume" ||
        name == "--help" || name == "--version") {
      continue;
    }
    flags.push_back(name);
  }
  return fmt::format("{}", fmt::join(flags, ", "));
}

// Options that only make sense together: a flag given must take effect, or be refused here.
void check_flag_combinations(const CLI::App& app, const TrainConfig& config) {
  if (app.count("--verify-data") > 0) {
    for (const CLI::Option* option : app.get_options()) {
      const std::string name = option->get_name(false, true);
      if (option->count() > 0 && name != "--verify-data" && name != "--data-dir" &&
          name != "--dataset" && name != "--quiet") {
        throw UsageError(fmt::format(
            "{} has no effect with --verify-data, which only checks the files in --data-dir "
            "(it takes --data-dir, --dataset and --quiet)",
            name));
      }
    }
  }
  if (app.count("--mirror") > 0 && app.count("--no-download") > 0) {
    throw UsageError("--mirror has no effect with --no-download; drop one of them");
  }
  if (app.count("--overwrite") > 0 && app.count("--continue") > 0) {
    throw UsageError(
        "--overwrite and --continue contradict each other: --overwrite replaces the run in "
        "--out, --continue carries it on");
  }
  if (app.count("--lr") > 0 && config.schedule.kind == SchedulerKind::kOneCycle) {
    throw UsageError(
        "--lr has no effect with --scheduler onecycle, whose rates come from --max-lr (with "
        "--div-factor and --final-div-factor); give --max-lr instead");
  }
  const bool cuda = config.device.rfind("cuda", 0) == 0;
  if (app.count("--kernels") > 0 && config.fused_kernels && cuda) {
    throw UsageError(
        "--kernels fused has no effect with --device " + config.device +
        ": the fused kernels are CPU kernels, and on CUDA LibTorch's own operators run; drop "
        "--kernels or use --device cpu");
  }
}

template <typename T>
std::optional<T> given(const CLI::App& app, const std::string& flag, const T& value) {
  return app.count(flag) > 0 ? std::optional<T>(value) : std::nullopt;
}

}  // namespace

std::optional<Command> parse_command_line(int argc, const char* const* argv, std::ostream& out) {
  TrainConfig config;
  std::string norm_flag = to_flag(config.norm);

  CLI::App app{
      "Train a 9,752-parameter MNIST CNN with batch, layer or group normalization and write\n"
      "per-epoch metrics, a model summary, run.json and a checkpoint to --out.",
      "normtrain"};
  app.set_version_flag("--version", std::string("normtrain ") + kVersion);
  app.get_formatter()->column_width(30);

  app.add_option("--norm", norm_flag,
                 "Normalization after each conv block: bn, ln, gn, in (instance) or none")
      ->check(CLI::IsMember({"bn", "ln", "gn", "in", "none"}))
      ->capture_default_str();
  app.add_option("--groups", config.groups,
                 "GroupNorm groups (only with --norm gn): 1, 2, 4 or 8 [default: 8]");
  app.add_option("--l1", config.l1, "L1 penalty weight on all parameters; 0 disables it")
      ->capture_default_str();
  app.add_option("--epochs", config.epochs, "Passes over the training set")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "Training batch size")->capture_default_str();
  app.add_option("--lr", config.lr, "SGD learning rate")->capture_default_str();
  app.add_option("--momentum", config.momentum, "SGD momentum")->capture_default_str();
  std::string scheduler_flag = to_flag(config.schedule.kind);
  app.add_option("--scheduler", scheduler_flag,
                 "Learning-rate schedule: none (constant --lr), step or onecycle")
      ->check(CLI::IsMember({"none", "step", "onecycle"}))
      ->capture_default_str();
  app.add_option("--step-size", config.schedule.step_size, "step: epochs between decays")
      ->capture_default_str();
  app.add_option("--gamma", config.schedule.gamma, "step: factor applied at each decay")
      ->capture_default_str();
  app.add_option("--max-lr", config.schedule.max_lr, "onecycle: peak learning rate")
      ->capture_default_str();
  app.add_option("--pct-start", config.schedule.pct_start,
                 "onecycle: fraction of all steps spent rising to --max-lr")
      ->capture_default_str();
  app.add_option("--div-factor", config.schedule.div_factor,
                 "onecycle: the start rate is --max-lr / this")
      ->capture_default_str();
  app.add_option("--final-div-factor", config.schedule.final_div_factor,
                 "onecycle: the final rate is the start rate / this")
      ->capture_default_str();
  app.add_option("--dropout", config.dropout, "Dropout after every norm layer")
      ->capture_default_str();
  // NonNegativeNumber: otherwise "-1" would wrap around to a huge unsigned seed.
  std::string kernels = config.fused_kernels ? "fused" : "stock";
  app.add_option("--kernels", kernels,
                 "fused: hand-written ReLU+norm CPU kernels on channels-last data; stock: "
                 "LibTorch's operators (same math, slower)")
      ->check(CLI::IsMember({"fused", "stock"}))
      ->capture_default_str();
  app.add_option("--seed", config.seed, "Seed for initialisation, shuffling and augmentation")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--device", config.device, "auto (CUDA when available), cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads; 0 uses every core")
      ->capture_default_str();
  std::string dataset_flag = dataset_info(config.dataset).flag;
  app.add_option("--dataset", dataset_flag, "mnist or fashion-mnist")
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}))
      ->capture_default_str();
  app.add_option("--data-dir", config.data_dir,
                 "Folder with the four IDX files (raw or .gz) [default: data/mnist; for "
                 "fashion-mnist /usr/share/datasets/fashion-mnist when installed]");
  app.add_option("--mirror", config.mirror,
                 "Base URL to download missing MNIST files from (http, https or file://); "
                 "also NORMTRAIN_MNIST_MIRROR");
  app.add_flag("--no-download", "Never download; fail if --data-dir lacks the files");
  app.add_flag("--verify-data", config.verify_data,
               "Check the files in --data-dir against the official MNIST checksums and exit");
  app.add_option("--limit-train", config.limit_train, "Use the first N training images; 0 = all")
      ->capture_default_str();
  app.add_option("--limit-test", config.limit_test, "Use the first N test images; 0 = all")
      ->capture_default_str();
  app.add_option("--misclassified", config.misclassified,
                 "Wrongly classified test images to show in misclassified.png")
      ->capture_default_str();
  app.add_option("--out", config.out_dir,
                 "Output folder [default: runs/<variant>, plus -seed-N for a seed other than 1]");
  app.add_flag("--overwrite",
               "When --out already holds a run, delete its files first, then train afresh");
  app.add_flag("--continue",
               "When --out already holds a run of this same configuration, resume it (or skip "
               "it when complete) instead of refusing");
  app.add_flag("--dry-run", config.dry_run,
               "Say what this command would do with --out (start, resume, extend, skip or "
               "refuse) and exit without training");
  app.add_flag("--quiet", config.quiet, "Print only warnings and errors");
  std::string resume_path;
  app.add_option("--resume", resume_path,
                 "Continue the run saved in this folder (or checkpoint file) up to --epochs, "
                 "with its saved configuration");

  // Subcommands that use a trained run; training itself needs none, so that every existing
  // command line keeps working.
  PredictRequest predict;
  std::string polarity = to_flag(predict.polarity);
  CLI::App* predict_command = app.add_subcommand(
      "predict", "Classify your own images (PNG, JPEG, ...; any size) with a trained run's model");
  predict_command->add_option("--checkpoint", predict.checkpoint, "Run folder or its checkpoint.pt")
      ->required();
  predict_command->add_option("images", predict.images, "Image files")->required();
  predict_command
      ->add_option("--colors", polarity,
                   "auto (invert when the border is light), white-on-black (like MNIST) or "
                   "black-on-white (ink on paper)")
      ->check(CLI::IsMember({"auto", "white-on-black", "black-on-white"}))
      ->capture_default_str();
  predict_command->add_flag("--json", predict.json, "Print one JSON array instead of lines");
  predict_command->add_option("--device", predict.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  predict_command->add_option("--threads", predict.threads, "CPU threads; 0 uses every core");

  EvalRequest eval;
  std::string eval_data_dir;
  std::int64_t eval_limit_test = 0;
  CLI::App* eval_command =
      app.add_subcommand("eval",
                         "Test a trained run's model without training; writes confusion.csv and "
                         "misclassified.png");
  eval_command->add_option("--checkpoint", eval.checkpoint, "Run folder or its checkpoint.pt")
      ->required();
  eval_command->add_option("--data-dir", eval_data_dir, "Test data [default: the run's]");
  eval_command->add_option("--limit-test", eval_limit_test,
                           "Use the first N test images [default: the run's]");
  eval_command->add_option("--out", eval.out_dir, "Where to write [default: the run's folder]");
  eval_command->add_option("--misclassified", eval.misclassified, "Images in misclassified.png")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  eval_command->add_option("--device", eval.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  eval_command->add_option("--threads", eval.threads, "CPU threads; 0 uses every core");
  eval_command->add_option("--mirror", eval.mirror, "Where to download missing test files from");
  eval_command->add_flag("--no-download", "Never download missing test files");
  eval_command->add_flag("--quiet", eval.quiet, "Print only the result, warnings and errors");
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    app.exit(success, out, out);
    return std::nullopt;
  } catch (const CLI::ParseError& error) {
    throw UsageError(fmt::format("{}\nRun 'normtrain --help' for the options.", error.what()));
  }

  if (predict_command->parsed() || eval_command->parsed()) {
    // Training options belong to training: refuse them rather than silently ignore them.
    for (const CLI::Option* option : app.get_options()) {
      if (option->count() > 0) {
        throw UsageError(
            fmt::format("{} is a training option; it cannot be given with the {} "
                        "subcommand",
                        option->get_name(), predict_command->parsed() ? "predict" : "eval"));
      }
    }
    if (predict_command->parsed()) {
      predict.polarity = polarity == "white-on-black"   ? Polarity::kWhiteOnBlack
                         : polarity == "black-on-white" ? Polarity::kBlackOnWhite
                                                        : Polarity::kAuto;
      validate_device_and_threads(predict.device, predict.threads);
      return predict;
    }
    if (eval_command->count("--data-dir") > 0) eval.data_dir = eval_data_dir;
    if (eval_command->count("--limit-test") > 0) eval.limit_test = eval_limit_test;
    eval.download = eval_command->count("--no-download") == 0;
    if (!eval.download && eval_command->count("--mirror") > 0) {
      throw UsageError("--mirror has no effect with --no-download; drop one of them");
    }
    validate_device_and_threads(eval.device, eval.threads);
    if (eval_limit_test < 0) {
      throw UsageError("--limit-test must be 0 (all) or more");
    }
    return eval;
  }

  config.norm = *norm_from_flag(norm_flag);
  config.dataset = *dataset_from_flag(dataset_flag);
  if (app.count("--data-dir") == 0) config.data_dir = default_data_dir(config.dataset);
  config.download = app.count("--no-download") == 0;
  config.fused_kernels = kernels == "fused";

  config.existing_run = app.count("--overwrite") > 0  ? ExistingRunPolicy::kOverwrite
                        : app.count("--continue") > 0 ? ExistingRunPolicy::kContinue
                                                      : ExistingRunPolicy::kRefuse;
  config.schedule.kind = *scheduler_from_flag(scheduler_flag);
  check_flag_combinations(app, config);

  if (app.count("--resume") > 0) {
    for (const CLI::Option* option : app.get_options()) {
      const std::string flag = option->get_name(false, true);
      if (option->count() > 0 && fixed_on_resume(flag)) {
        throw UsageError(fmt::format(
            "{} cannot be given with --resume: a resumed run keeps its saved configuration "
            "(only {} may change)",
            flag, changeable_on_resume(app)));
      }
    }
    ResumeRequest request;
    request.path = resume_path;
    request.epochs = given(app, "--epochs", config.epochs);
    request.threads = given(app, "--threads", config.threads);
    request.device = given(app, "--device", config.device);
    request.data_dir = given(app, "--data-dir", config.data_dir);
    request.misclassified = given(app, "--misclassified", config.misclassified);
    request.quiet = config.quiet;
    request.download = config.download;
    request.mirror = config.mirror;
    // The flags given must be valid on their own; the merged configuration is checked again.
    validate(config);
    return request;
  }
  if (app.count("--groups") > 0 && config.norm != NormKind::kGroup) {
    throw UsageError(fmt::format("--groups applies only to --norm gn, not --norm {}", norm_flag));
  }
  const auto require_scheduler = [&](const char* flag, SchedulerKind kind) {
    if (app.count(flag) > 0 && config.schedule.kind != kind) {
      throw UsageError(fmt::format("{} applies only to --scheduler {}", flag, to_flag(kind)));
    }
  };
  require_scheduler("--step-size", SchedulerKind::kStep);
  require_scheduler("--gamma", SchedulerKind::kStep);
  for (const char* flag : {"--max-lr", "--pct-start", "--div-factor", "--final-div-factor"}) {
    require_scheduler(flag, SchedulerKind::kOneCycle);
  }
  validate(config);
  return config;
}

}  // namespace normtrain
