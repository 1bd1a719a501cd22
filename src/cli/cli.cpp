#include "normtrain/cli/cli.hpp"

#include <algorithm>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "normtrain/commands/sweep/sweep_options.hpp"
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
  if (app.count("--landscape-steps") > 0 && config.landscape_every == 0 &&
      app.count("--resume") == 0) {
    throw UsageError(
        "--landscape-steps has no effect without --landscape-every N, which says when to probe");
  }
  if (app.count("--overwrite") > 0 && app.count("--continue") > 0) {
    throw UsageError(
        "--overwrite and --continue contradict each other: --overwrite replaces the run in "
        "--out, --continue carries it on");
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

// Validators that accept exactly the flag spellings of `values` (to_flag of each) and map them
// onto the enum, so that an option binds straight to the enum and the spellings live in one
// place. Two steps: a CheckedTransformer alone would also accept the enum's numbers.
template <typename Enum>
std::pair<CLI::Validator, CLI::Validator> choices(std::initializer_list<Enum> values) {
  std::vector<std::pair<std::string, Enum>> table;
  std::vector<std::string> names;
  for (Enum value : values) {
    table.emplace_back(to_flag(value), value);
    names.push_back(to_flag(value));
  }
  return {CLI::IsMember(names), CLI::Transformer(table).description("")};
}

template <typename Enum>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, Enum& value,
                        const std::string& help, std::initializer_list<Enum> values) {
  auto [member, transform] = choices(values);
  // CLI11 applies transforms before checks, the last added first: so the membership test is
  // a transform too, added after the mapping so that it sees the spelling.
  return app.add_option(flag, value, help)
      ->transform(transform)
      ->transform(member)
      ->default_str(to_flag(value));
}

// The flags given on the command line, by their long names.
std::vector<std::string> given_flags(const CLI::App& app) {
  std::vector<std::string> flags;
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() > 0) flags.push_back(option->get_name(false, true));
  }
  return flags;
}

// What each training option means; they read into `config`, whose defaults are the recipe's.
void add_training_options(CLI::App& app, TrainConfig& config) {
  add_choice(app, "--norm", config.norm,
             "Normalization in each conv block: bn, ln, gn, in (instance), none, brn (batch "
             "renormalization), frn (filter response norm; its TLU replaces the ReLU) or rms",
             {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup, NormKind::kInstance,
              NormKind::kNone, NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms});
  app.add_option("--groups", config.groups,
                 "GroupNorm groups (only with --norm gn): 1, 2, 4 or 8 [default: 8]");
  app.add_option("--brn-rmax", config.batch_renorm.r_max,
                 "brn: r is clipped to [1/r_max, r_max] [default: 3]");
  app.add_option("--brn-dmax", config.batch_renorm.d_max,
                 "brn: d is clipped to [-d_max, d_max] [default: 5]");
  app.add_option("--brn-warmup", config.batch_renorm.warmup,
                 "brn: training steps over which r_max rises from 1 and d_max from 0 [default: "
                 "500]");
  app.add_flag("--weight-standardization", config.weight_standardization,
               "Standardize every 3x3 convolution's weight per output channel before convolving");
  app.add_option("--l1", config.l1, "L1 penalty weight on all parameters; 0 disables it")
      ->capture_default_str();
  app.add_option("--epochs", config.epochs, "Passes over the training set")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "Training batch size")->capture_default_str();
  app.add_option("--lr", config.lr, "SGD learning rate")->capture_default_str();
  app.add_option("--momentum", config.momentum, "SGD momentum")->capture_default_str();
  add_choice(app, "--scheduler", config.schedule.kind,
             "Learning-rate schedule: none (constant --lr), step or onecycle",
             {SchedulerKind::kNone, SchedulerKind::kStep, SchedulerKind::kOneCycle});
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
  app.add_option("--kernels", config.fused_kernels,
                 "fused: hand-written ReLU+norm CPU kernels on channels-last data; stock: "
                 "LibTorch's operators (same math, slower)")
      ->transform(CLI::Transformer(
                      std::vector<std::pair<std::string, bool>>{{"fused", true}, {"stock", false}})
                      .description(""))
      ->transform(CLI::IsMember({"fused", "stock"}))
      ->default_str("fused; stock for brn, frn and rms");
  // NonNegativeNumber: otherwise "-1" would wrap around to a huge unsigned seed.
  app.add_option("--seed", config.seed, "Seed for initialisation, shuffling and augmentation")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--device", config.device, "auto (CUDA when available), cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads; 0 uses every core")
      ->capture_default_str();
  add_choice(app, "--cuda-graphs", config.cuda_graphs,
             "CUDA: replay each training step from a captured CUDA graph: auto (whenever the "
             "run allows it), on (refuse a run that does not) or off; the same numbers either "
             "way",
             {CudaGraphs::kAuto, CudaGraphs::kOn, CudaGraphs::kOff});
  add_choice(app, "--dataset", config.dataset, "mnist or fashion-mnist",
             {DatasetKind::kMnist, DatasetKind::kFashionMnist});
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
  app.add_option("--diagnostics-every", config.diagnostics_every,
                 "Write a row per normalized block to layers.csv at step 1 and every N steps "
                 "after; 0 = none")
      ->capture_default_str();
  app.add_option("--precise-bn", config.precise_bn,
                 "bn, brn: after each epoch also test with BatchNorm statistics recomputed "
                 "from N training images (metrics.csv: test_loss_precise, test_acc_precise); "
                 "0 = not")
      ->capture_default_str();
  app.add_option("--landscape-every", config.landscape_every,
                 "Probe the loss along the gradient (landscape.csv, landscape_summary.csv) at "
                 "step 1 and every N steps after; 0 = never")
      ->capture_default_str();
  app.add_option("--landscape-steps", config.landscape_steps,
                 "The probes' step sizes, as multiples of the learning rate")
      ->delimiter(',')
      // CLI11 reads an empty value as 0: refuse it rather than probe at a step size of 0.
      ->check(CLI::Validator(
          [](const std::string& value) {
            return value.empty() ? std::string("an empty step size") : std::string();
          },
          "", "not empty"))
      ->default_str("0.5,1,2,4");
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
}

CLI::App* add_predict_subcommand(CLI::App& app, PredictRequest& predict) {
  CLI::App* command = app.add_subcommand(
      "predict", "Classify your own images (PNG, JPEG, ...; any size) with a trained run's model");
  command->add_option("--checkpoint", predict.checkpoint, "Run folder or its checkpoint.pt")
      ->required();
  command->add_option("images", predict.images, "Image files")->required();
  add_choice(*command, "--colors", predict.polarity,
             "auto (invert when the border is light), white-on-black (like MNIST) or "
             "black-on-white (ink on paper)",
             {Polarity::kAuto, Polarity::kWhiteOnBlack, Polarity::kBlackOnWhite});
  command->add_flag("--json", predict.json, "Print one JSON array instead of lines");
  command->add_option("--device", predict.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  command->add_option("--threads", predict.threads, "CPU threads; 0 uses every core");
  return command;
}

// The eval subcommand; options whose default is "the run's" read into the `given_*` values.
struct EvalOptions {
  std::string data_dir;
  std::int64_t limit_test = 0;
};

CLI::App* add_eval_subcommand(CLI::App& app, EvalRequest& eval, EvalOptions& options) {
  CLI::App* command =
      app.add_subcommand("eval",
                         "Test a trained run's model without training; writes confusion.csv and "
                         "misclassified.png");
  command->add_option("--checkpoint", eval.checkpoint, "Run folder or its checkpoint.pt")
      ->required();
  command->add_option("--data-dir", options.data_dir, "Test data [default: the run's]");
  command->add_option("--limit-test", options.limit_test,
                      "Use the first N test images [default: the run's]");
  command
      ->add_option("--precise-bn", eval.precise_bn,
                   "bn, brn: also test with BatchNorm statistics recomputed from the first N "
                   "training images of the run's data; 0 = not")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--out", eval.out_dir, "Where to write [default: the run's folder]");
  command->add_option("--misclassified", eval.misclassified, "Images in misclassified.png")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  command->add_option("--device", eval.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--threads", eval.threads, "CPU threads; 0 uses every core");
  command->add_option("--mirror", eval.mirror, "Where to download missing test files from");
  command->add_flag("--no-download", "Never download missing test files");
  command->add_flag("--quiet", eval.quiet, "Print only the result, warnings and errors");
  return command;
}

CLI::App* add_report_subcommand(CLI::App& app, ReportRequest& report, std::string& plot_data) {
  CLI::App* command = app.add_subcommand(
      "report",
      "Summarise run folders as a Markdown table, one row per run: best and final accuracies, "
      "L1 factor, groups, training time. A diverged run shows where it diverged, an unfinished "
      "one its status and no final accuracy.");
  command->add_flag("--aggregate", report.aggregate,
                    "One row per recipe (runs that differ only in seed, device, threads or "
                    "folders): mean ± sample std over its completed runs, the others counted by "
                    "status");
  command
      ->add_option("--plot-data", plot_data,
                   "Instead of a table, write DIR/runs.tsv for scripts/plot.sh: per run its "
                   "folder, label, status, epochs, steps, metrics.csv, steps.csv")
      ->type_name("DIR");
  command->add_flag("--diagnostics", report.diagnostics,
                    "Instead of the accuracy table, what the runs' diagnostics files say: "
                    "per-block weight norms, gamma, zeros and update ratios (layers.csv), test "
                    "accuracy with running vs precise BatchNorm statistics, and the loss "
                    "landscape along the gradient (landscape_summary.csv)");
  command->add_flag("--by-batch-size", report.by_batch_size,
                    "Instead, the batch-size study's table: final test error (%) per recipe "
                    "(runs pooled over seed, batch size and learning rate) and batch size, mean "
                    "± sample std (runs), with a row for precise BatchNorm statistics where the "
                    "runs have them; with --plot-data DIR, write DIR/batch_size.tsv instead");
  // Optional here, so that run_report says "no run folders given" (exit 2) itself.
  command->add_option("RUN", report.runs, "Run folders written by normtrain --out")->type_name("");
  return command;
}

CLI::App* add_export_subcommand(CLI::App& app, ExportRequest& request) {
  CLI::App* command = app.add_subcommand(
      "export",
      "Write a trained run's model for PyTorch: its weights as safetensors (scripts/to_pytorch.py "
      "loads them) or a TorchScript module (torch.jit.load)");
  command->add_option("--checkpoint", request.checkpoint, "Run folder or its checkpoint.pt")
      ->required();
  add_choice(*command, "--format", request.format,
             "safetensors (weights and the run's configuration) or torchscript (the whole "
             "network, in evaluation form)",
             {ExportFormat::kSafetensors, ExportFormat::kTorchScript});
  command->add_option("--out", request.out, "File to write (replaced if it exists)")->required();
  return command;
}

EvalRequest finish_eval(const CLI::App& command, EvalRequest eval, const EvalOptions& options) {
  if (command.count("--data-dir") > 0) eval.data_dir = options.data_dir;
  if (command.count("--limit-test") > 0) eval.limit_test = options.limit_test;
  eval.download = command.count("--no-download") == 0;
  if (!eval.download && command.count("--mirror") > 0) {
    throw UsageError("--mirror has no effect with --no-download; drop one of them");
  }
  validate_device_and_threads(eval.device, eval.threads);
  if (options.limit_test < 0) {
    throw UsageError("--limit-test must be 0 (all) or more");
  }
  return eval;
}

// --resume: only options that cannot change the saved run's results may come with it.
ResumeRequest finish_resume(const CLI::App& app, const TrainConfig& config,
                            const std::string& path) {
  for (const std::string& flag : given_flags(app)) {
    if (fixed_on_resume(flag)) {
      throw UsageError(fmt::format(
          "{} cannot be given with --resume: a resumed run keeps its saved configuration "
          "(only {} may change)",
          flag, changeable_on_resume(app)));
    }
  }
  ResumeRequest request;
  request.path = path;
  request.epochs = given(app, "--epochs", config.epochs);
  request.threads = given(app, "--threads", config.threads);
  request.device = given(app, "--device", config.device);
  request.data_dir = given(app, "--data-dir", config.data_dir);
  request.misclassified = given(app, "--misclassified", config.misclassified);
  request.diagnostics_every = given(app, "--diagnostics-every", config.diagnostics_every);
  request.precise_bn = given(app, "--precise-bn", config.precise_bn);
  request.landscape_every = given(app, "--landscape-every", config.landscape_every);
  request.landscape_steps = given(app, "--landscape-steps", config.landscape_steps);
  request.cuda_graphs = given(app, "--cuda-graphs", config.cuda_graphs);
  request.quiet = config.quiet;
  request.download = config.download;
  request.mirror = config.mirror;
  // The flags given must be valid on their own; the merged configuration is checked again.
  validate(config);
  return request;
}

}  // namespace

std::optional<Command> parse_command_line(int argc, const char* const* argv, std::ostream& out) {
  CLI::App app{
      "Train a 9,752-parameter MNIST CNN with batch, layer or group normalization and write\n"
      "per-epoch metrics, a model summary, run.json and a checkpoint to --out.",
      "normtrain"};
  app.set_version_flag("--version", std::string("normtrain ") + kVersion);
  app.get_formatter()->column_width(30);

  TrainConfig config;
  add_training_options(app, config);
  std::string resume_path;
  app.add_option("--resume", resume_path,
                 "Continue the run saved in this folder (or checkpoint file) up to --epochs, "
                 "with its saved configuration");
  // Subcommands that use a trained run; training itself needs none, so that every existing
  // command line keeps working.
  PredictRequest predict;
  CLI::App* predict_command = add_predict_subcommand(app, predict);
  EvalRequest eval;
  EvalOptions eval_options;
  CLI::App* eval_command = add_eval_subcommand(app, eval, eval_options);
  ReportRequest report;
  std::string plot_data;
  CLI::App* report_command = add_report_subcommand(app, report, plot_data);
  SweepRequest sweep;
  CLI::App* sweep_command = add_sweep_subcommand(app, sweep);
  ExportRequest export_request;
  CLI::App* export_command = add_export_subcommand(app, export_request);
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    app.exit(success, out, out);
    return std::nullopt;
  } catch (const CLI::ParseError& error) {
    throw UsageError(fmt::format("{}\nRun 'normtrain --help' for the options.", error.what()));
  }

  if (sweep_command->parsed()) {
    for (const std::string& flag : given_flags(app)) {
      throw UsageError(fmt::format(
          "{} is a training option; give it to the sweep's runs after '--': normtrain sweep "
          "[OPTIONS] -- {} ...",
          flag, flag));
    }
    return finish_sweep_request(*sweep_command, sweep);
  }
  if (predict_command->parsed() || eval_command->parsed() || report_command->parsed() ||
      export_command->parsed()) {
    // Training options belong to training: refuse them rather than silently ignore them.
    for (const std::string& flag : given_flags(app)) {
      throw UsageError(
          fmt::format("{} is a training option; it cannot be given with the {} "
                      "subcommand",
                      flag, app.get_subcommands().front()->get_name()));
    }
    if (export_command->parsed()) return export_request;
    if (report_command->parsed()) {
      if (report_command->count("--plot-data") > 0) report.plot_data = plot_data;
      return report;
    }
    if (predict_command->parsed()) {
      validate_device_and_threads(predict.device, predict.threads);
      return predict;
    }
    return finish_eval(*eval_command, eval, eval_options);
  }

  if (app.count("--data-dir") == 0) config.data_dir = default_data_dir(config.dataset);
  config.download = app.count("--no-download") == 0;
  config.existing_run = app.count("--overwrite") > 0  ? ExistingRunPolicy::kOverwrite
                        : app.count("--continue") > 0 ? ExistingRunPolicy::kContinue
                                                      : ExistingRunPolicy::kRefuse;
  check_flag_combinations(app, config);
  // The default kernels are the fused ones where they exist; given, --kernels fused is refused
  // for the other norms (by validate).
  if (app.count("--kernels") == 0 && !has_fused_kernels(config.norm)) config.fused_kernels = false;
  if (app.count("--resume") > 0) return finish_resume(app, config, resume_path);
  check_identity_flags_apply(config, given_flags(app));
  validate(config);
  return config;
}

const std::vector<std::string>& list_flag_names() {
  static const std::vector<std::string> names = [] {
    CLI::App app;
    TrainConfig config;
    add_training_options(app, config);
    std::vector<std::string> found;
    for (const CLI::Option* option : app.get_options()) {
      if (option->get_items_expected_max() > 1) found.push_back(option->get_name(false, true));
    }
    return found;
  }();
  return names;
}

}  // namespace normtrain
