#include "normtrain/commands/report_command.hpp"

#include <ostream>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/report/batch_size_table.hpp"
#include "normtrain/report/diagnostics_table.hpp"
#include "normtrain/report/plot_data.hpp"
#include "normtrain/report/run_table.hpp"

namespace normtrain {

int run_report(const ReportRequest& request, std::ostream& out) {
  if (request.runs.empty()) {
    throw UsageError(
        "no run folders given (usage: normtrain report [--aggregate | --diagnostics | "
        "--by-batch-size] [--plot-data DIR] RUN...)");
  }
  if (request.by_batch_size && (request.aggregate || request.diagnostics)) {
    throw UsageError(fmt::format(
        "--by-batch-size pools runs by recipe and batch size; it cannot be combined with {}",
        request.aggregate ? "--aggregate" : "--diagnostics"));
  }
  if (request.diagnostics && (request.aggregate || request.plot_data)) {
    throw UsageError(
        fmt::format("--diagnostics shows each run's diagnostics; it cannot be "
                    "combined with {}",
                    request.aggregate ? "--aggregate" : "--plot-data"));
  }
  if (request.plot_data) {
    if (request.aggregate) {
      throw UsageError(
          "--plot-data lists each run for plotting; it cannot be combined with --aggregate");
    }
    if (request.plot_data->empty()) {
      throw UsageError(fmt::format("--plot-data needs the folder to write {} into",
                                   request.by_batch_size ? kBatchSizePlotFile : kPlotDataFile));
    }
  }
  // All folders first, so that a mistyped one fails before anything is read or written.
  std::vector<std::string> files = {"run.json", "metrics.csv"};
  if (request.plot_data && !request.by_batch_size) files.emplace_back("steps.csv");
  for (const std::string& folder : request.runs) require_run_files(folder, files);

  std::vector<RunSummary> runs;
  runs.reserve(request.runs.size());
  for (const std::string& folder : request.runs) runs.push_back(read_run_summary(folder));
  if (request.by_batch_size) {
    if (request.plot_data) {
      write_batch_size_plot_data(runs, *request.plot_data);
    } else {
      out << batch_size_table(runs) << std::flush;
    }
  } else if (request.plot_data) {
    write_plot_data(runs, *request.plot_data);
  } else if (request.diagnostics) {
    out << diagnostics_tables(runs) << std::flush;
  } else {
    out << (request.aggregate ? aggregate_table(runs) : run_table(runs)) << std::flush;
  }
  return 0;
}

}  // namespace normtrain
