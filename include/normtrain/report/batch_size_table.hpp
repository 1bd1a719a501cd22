#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "normtrain/report/run_table.hpp"

namespace normtrain {

// `normtrain report --by-batch-size`: the batch-size study's view of run folders (Wu & He,
// "Group Normalization", Figure 1). Runs are pooled by recipe apart from their seed, batch size
// and learning rate (the study scales the rate with the batch), in the order each recipe first
// appears; the measure is the final test error in percent (100 - the last epoch's test
// accuracy), as mean ± sample standard deviation over a cell's completed runs. Runs that did not
// complete are counted by status in their cell and left out of the statistics, so that a
// diverged run is never silently missing.

// A Markdown table, one column per batch size (ascending) and one row per recipe, plus a row
// "LABEL, precise statistics" under each recipe whose runs tested with precise BatchNorm
// statistics (--precise-bn). A cell reads "1.23 ± 0.10 (3)": mean ± std (runs); "1.23 ± - (1)"
// for one run; "-" without runs; "(2; 1 diverged)" counts the runs left out. The last column,
// "2 vs 128", is the mean error at the smallest batch size minus that at the largest, in points,
// with the standard error of that difference where both cells have two runs or more ("+0.72 ±
// 0.30"; "+0.72" otherwise). A last line gives the number of runs and their time together (start to
// end, and in training passes).
std::string batch_size_table(const std::vector<RunSummary>& runs);

// What `--by-batch-size --plot-data DIR` writes into DIR for gnuplot: a tab-separated list with
// the header kBatchSizePlotHeader and a line per (recipe, batch size) cell with a completed run,
// recipes in the table's order, batch sizes ascending. The precise columns are empty for cells
// without precise statistics; a std is 0 for a single run.
inline constexpr const char* kBatchSizePlotFile = "batch_size.tsv";
inline constexpr const char* kBatchSizePlotHeader =
    "label\tbatch_size\truns\terror_mean\terror_std\tprecise_runs\tprecise_error_mean\t"
    "precise_error_std";

std::string batch_size_plot_text(const std::vector<RunSummary>& runs);

// Writes DIR/batch_size.tsv (creating DIR when needed). Throws a runtime Error naming what could
// not be written.
void write_batch_size_plot_data(const std::vector<RunSummary>& runs,
                                const std::filesystem::path& dir);

}  // namespace normtrain
