#include "normtrain/report/plot_data.hpp"

#include <fstream>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/text_format.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;

// The rows of steps.csv after its header.
int count_steps(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    throw RuntimeError(fmt::format("{} is missing or cannot be read", path.string()));
  }
  int rows = 0;
  while (std::getline(in, line)) {
    if (!line.empty()) ++rows;
  }
  return rows;
}

// A path as one field; a path with a tab or line break in it cannot be one.
std::string path_field(const fs::path& path) {
  const std::string text = path.string();
  if (text.find_first_of("\t\n\r") != std::string::npos) {
    throw UsageError(fmt::format(
        "--plot-data cannot list '{}': its path holds a tab or a line break; rename the folder",
        text));
  }
  return text;
}

}  // namespace

std::string plot_data_text(const std::vector<RunSummary>& runs) {
  std::string text = std::string(kPlotDataHeader) + "\n";
  for (const RunSummary& run : runs) {
    const fs::path steps_csv = run.folder / "steps.csv";
    text +=
        fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", path_field(run.folder), tsv_field(run.label),
                    tsv_field(run.status), run.epochs, count_steps(steps_csv),
                    path_field(run.folder / "metrics.csv"), path_field(steps_csv));
  }
  return text;
}

void write_plot_data(const std::vector<RunSummary>& runs, const fs::path& dir) {
  const std::string text = plot_data_text(runs);
  ensure_writable_dir(dir, "--plot-data");
  write_file_atomically(dir / kPlotDataFile, text);
}

}  // namespace normtrain
