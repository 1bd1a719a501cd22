#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "normtrain/report/run_table.hpp"

namespace normtrain {

// What `normtrain report --plot-data DIR` writes into DIR for scripts/plot.sh, so that the
// script reads no run.json: a tab-separated list with a header line and a line per run, in the
// order given, of the fields in kPlotDataHeader: the run folder, its label (for the legend), its
// status, its finished epochs (rows of metrics.csv) and steps (rows of steps.csv), and the two
// files gnuplot draws. No field holds a tab or a line break.
inline constexpr const char* kPlotDataFile = "runs.tsv";
inline constexpr const char* kPlotDataHeader =
    "folder\tlabel\tstatus\tepochs\tsteps\tmetrics_csv\tsteps_csv";

// The text of the list for `runs`, each folder holding a steps.csv. Throws a runtime Error
// naming a steps.csv that cannot be read, and a usage Error for a folder whose path holds a tab
// or a line break.
std::string plot_data_text(const std::vector<RunSummary>& runs);

// Writes DIR/runs.tsv (creating DIR when needed). Throws a runtime Error naming what could not
// be written.
void write_plot_data(const std::vector<RunSummary>& runs, const std::filesystem::path& dir);

}  // namespace normtrain
