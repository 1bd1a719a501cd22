#include "normtrain/cli.hpp"

#include <ostream>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "normtrain/error.hpp"
#include "normtrain/version.hpp"

namespace normtrain {

std::optional<TrainConfig> parse_command_line(int argc, const char* const* argv,
                                              std::ostream& out) {
  TrainConfig config;
  std::string norm_flag = to_flag(config.norm);

  CLI::App app{
      "Train a 9,752-parameter MNIST CNN with batch, layer or group normalization and write\n"
      "per-epoch metrics, a model summary, run.json and a checkpoint to --out.",
      "normtrain"};
  app.set_version_flag("--version", std::string("normtrain ") + kVersion);
  app.get_formatter()->column_width(30);

  app.add_option("--norm", norm_flag, "Normalization after each conv block: bn, ln or gn")
      ->check(CLI::IsMember({"bn", "ln", "gn"}))
      ->capture_default_str();
  app.add_option("--groups", config.groups,
                 "GroupNorm groups (only with --norm gn): 1, 2, 4 or 8 [default: 8]");
  app.add_option("--l1", config.l1, "L1 penalty weight on all parameters; 0 disables it")
      ->capture_default_str();
  app.add_option("--epochs", config.epochs, "Passes over the training set")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "Training batch size")->capture_default_str();
  app.add_option("--lr", config.lr, "SGD learning rate")->capture_default_str();
  app.add_option("--momentum", config.momentum, "SGD momentum")->capture_default_str();
  app.add_option("--dropout", config.dropout, "Dropout after every norm layer")
      ->capture_default_str();
  // NonNegativeNumber: otherwise "-1" would wrap around to a huge unsigned seed.
  app.add_option("--seed", config.seed, "Seed for initialisation, shuffling and augmentation")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--device", config.device, "auto (CUDA when available), cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads; 0 uses every core")
      ->capture_default_str();
  app.add_option("--data-dir", config.data_dir, "Folder with the four MNIST IDX files (raw or .gz)")
      ->capture_default_str();
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
  app.add_option("--out", config.out_dir, "Output folder [default: runs/<variant>]");
  app.add_flag("--quiet", config.quiet, "Print only warnings and errors");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    app.exit(success, out, out);
    return std::nullopt;
  } catch (const CLI::ParseError& error) {
    throw UsageError(fmt::format("{}\nRun 'normtrain --help' for the options.", error.what()));
  }

  config.norm = *norm_from_flag(norm_flag);
  config.download = app.count("--no-download") == 0;
  if (app.count("--groups") > 0 && config.norm != NormKind::kGroup) {
    throw UsageError(fmt::format("--groups applies only to --norm gn, not --norm {}", norm_flag));
  }
  validate(config);
  return config;
}

}  // namespace normtrain
