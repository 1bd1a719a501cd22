#pragma once

#include <iosfwd>

#include "normtrain/commands/sweep/sweep_request.hpp"

namespace normtrain {

// `normtrain sweep`: expands the grid into runs (normtrain's own parsing decides each run's
// configuration, and which flags apply to it), names their folders, and asks each folder what
// it needs (plan_run, as --continue would). When any folder holds a different run, or cannot
// be used, it throws a usage Error listing them all before anything starts. Then it runs the
// runs that need training here, --jobs at a time, as child processes of `request.program`
// (normtrain FLAGS --threads T --quiet --out DIR --continue, output in DIR/normtrain.log), or
// submits them to Slurm (--slurm), or only says what it would do (--dry-run); with --plan it is
// one array task of a Slurm sweep. Progress and the summary go to `out`.
//
// Returns the exit status: 0 every run complete (or skipped, or submitted), 1 a run failed, 3
// none failed but one diverged (now or before), 130 stopped by SIGINT or SIGTERM, which it
// passes on to its runs. Throws usage Errors (exit 2) and runtime Errors (exit 1).
int run_sweep(const SweepRequest& request, std::ostream& out);

// Throws a usage Error naming the option when the request's options are out of range or do not
// go together (--partition without --slurm, --plan with a grid, ...).
void validate(const SweepRequest& request);

}  // namespace normtrain
