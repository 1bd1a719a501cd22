#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace normtrain {

// `normtrain report`: run folders as a Markdown table, or as the data a plot script draws.
struct ReportRequest {
  std::vector<std::string> runs;  // folders written by normtrain --out, in the order shown
  // One row per recipe (runs that differ only in the seed or in where they ran) with the
  // mean ± standard deviation of its completed runs, instead of one row per run.
  bool aggregate = false;
  // Write PLOT_DATA/runs.tsv (see report/plot_data.hpp) instead of printing a table.
  std::optional<std::string> plot_data;
  // The tables of the runs' diagnostics files (report/diagnostics_table.hpp) instead.
  bool diagnostics = false;
  // The batch-size study's table of test error by recipe and batch size instead
  // (report/batch_size_table.hpp); with plot_data, its plot data (batch_size.tsv).
  bool by_batch_size = false;
};

// Prints the table `request` asks for to `out`, or writes its plot data; returns the exit
// status, 0. Every folder is checked before anything is printed or written: a usage Error for a
// request without folders or with contradicting options, a runtime Error naming the first folder
// that is not a run or a file that cannot be read.
int run_report(const ReportRequest& request, std::ostream& out);

}  // namespace normtrain
