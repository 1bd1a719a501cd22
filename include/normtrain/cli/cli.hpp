#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "normtrain/cli/config.hpp"
#include "normtrain/commands/export_request.hpp"
#include "normtrain/commands/report_command.hpp"
#include "normtrain/commands/sweep/sweep_request.hpp"

namespace normtrain {

// What the command line asks for: a new training run (no subcommand), continuing a saved one
// (--resume), or the predict, eval, report, sweep and export subcommands.
using Command = std::variant<TrainConfig, ResumeRequest, PredictRequest, EvalRequest, ReportRequest,
                             SweepRequest, ExportRequest>;

// Reads the command line into a validated command. Returns nullopt when the command line
// asked only for --help or --version, which have then been written to `out`. Throws a usage
// Error whose message names the offending flag for anything else that is wrong.
std::optional<Command> parse_command_line(int argc, const char* const* argv, std::ostream& out);

// The training flags whose one value is a comma-separated list (--landscape-steps 0.5,1,2): a
// sweep's grid gives each of them one list, where other flags list alternatives.
const std::vector<std::string>& list_flag_names();

}  // namespace normtrain
