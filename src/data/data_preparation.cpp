#include "normtrain/data/data_preparation.hpp"

#include <cstdlib>
#include <ostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "normtrain/data/mnist_download.hpp"
#include "normtrain/report/progress_bar.hpp"

namespace normtrain {

void prepare_data(const TrainConfig& config) {
  if (!config.download) return;  // missing files are then reported when the data is loaded
  const DatasetInfo& info = dataset_info(config.dataset);
  DownloadOptions options;
  options.files = info.files;
  options.mirrors =
      resolve_mirrors(config.mirror, std::getenv(info.mirror_env.c_str()), info.mirrors);
  options.show_progress = !config.quiet && stream_is_terminal(stderr);
  const std::vector<std::string> downloaded = ensure_mnist_files(config.data_dir, options);
  if (!downloaded.empty()) {
    spdlog::info("downloaded and verified {} into {}", fmt::join(downloaded, ", "),
                 config.data_dir);
  }
}

bool verify_data(const TrainConfig& config, std::ostream& out) {
  bool all_match = true;
  const DatasetInfo& info = dataset_info(config.dataset);
  for (const VerifyResult& result : verify_mnist_files(config.data_dir, info.files)) {
    all_match = all_match && result.check == FileCheck::kMatches;
    out << fmt::format("{:<24} {:<8} {}{}\n", result.name, file_check_name(result.check),
                       result.path.empty() ? config.data_dir : result.path.string(),
                       result.detail.empty() ? "" : " (" + result.detail + ")");
  }
  out << (all_match ? fmt::format("all four files are the official {}\n", info.title)
                    : fmt::format("some files are not the official {} (a subset or other IDX data "
                                  "is fine for training; results are then not comparable with "
                                  "the study)\n",
                                  info.title));
  return all_match;
}

}  // namespace normtrain
