#pragma once

#include <iosfwd>
#include <map>
#include <string>

#include "normtrain/cli/config.hpp"
#include "normtrain/commands/export_request.hpp"

namespace normtrain {

// `normtrain export`: writes a run's model to request.out as safetensors or TorchScript and
// says so on `out`. The file is written atomically. Throws normtrain::Error only: a runtime
// one naming the checkpoint when it cannot be read, or naming --out when it cannot be written.
void run_export(const ExportRequest& request, std::ostream& out);

// What an exported file says about its model, as the strings safetensors' metadata holds:
// what scripts/to_pytorch.py needs to rebuild the network (norm, groups, dropout,
// weight_standardization, and brn_rmax, brn_dmax, brn_warmup for brn), to prepare
// its input (dataset, mean, std) and to report as `normtrain eval` does (variant_label,
// dataset_title, epochs, limit_test), with the class names and the normtrain version.
std::map<std::string, std::string> export_metadata(const TrainConfig& config, int epochs);

}  // namespace normtrain
