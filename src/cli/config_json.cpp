#include "normtrain/cli/config_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "normtrain/common/error.hpp"

namespace normtrain {

std::string config_to_json_text(const TrainConfig& c) {
  const nlohmann::json json = {
      {"norm", to_flag(c.norm)},
      {"groups", c.norm == NormKind::kGroup ? nlohmann::json(c.groups) : nlohmann::json()},
      {"batch_renorm", c.norm == NormKind::kBatchRenorm
                           ? nlohmann::json{{"r_max", c.batch_renorm.r_max},
                                            {"d_max", c.batch_renorm.d_max},
                                            {"warmup", c.batch_renorm.warmup}}
                           : nlohmann::json()},
      {"weight_standardization", c.weight_standardization},
      {"l1", c.l1},
      {"epochs", c.epochs},
      {"batch_size", c.batch_size},
      {"lr", c.lr},
      {"momentum", c.momentum},
      {"scheduler",
       {{"kind", to_flag(c.schedule.kind)},
        {"step_size", c.schedule.step_size},
        {"gamma", c.schedule.gamma},
        {"max_lr", c.schedule.max_lr},
        {"pct_start", c.schedule.pct_start},
        {"div_factor", c.schedule.div_factor},
        {"final_div_factor", c.schedule.final_div_factor}}},
      {"dropout", c.dropout},
      {"seed", c.seed},
      {"kernels", c.fused_kernels ? "fused" : "stock"},
      {"device", c.device},
      {"threads", c.threads},
      {"dataset", dataset_info(c.dataset).flag},
      {"data_dir", c.data_dir},
      {"limit_train", c.limit_train},
      {"limit_test", c.limit_test},
      {"misclassified", c.misclassified},
      {"diagnostics_every", c.diagnostics_every},
      {"precise_bn", c.precise_bn},
      {"landscape_every", c.landscape_every},
      {"landscape_steps", c.landscape_steps},
      {"cuda_graphs", to_flag(c.cuda_graphs)},
      {"out", resolved_out_dir(c)},
  };
  return json.dump(2);
}

TrainConfig config_from_json_text(const std::string& text, const std::string& source) {
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    TrainConfig c;
    const auto norm = norm_from_flag(json.at("norm").get<std::string>());
    if (!norm)
      throw RuntimeError(fmt::format("{}: unknown norm in the saved configuration", source));
    c.norm = *norm;
    if (json.contains("groups") && !json["groups"].is_null()) c.groups = json["groups"].get<int>();
    if (json.contains("batch_renorm") && !json["batch_renorm"].is_null()) {
      const nlohmann::json& brn = json.at("batch_renorm");
      c.batch_renorm.r_max = brn.value("r_max", c.batch_renorm.r_max);
      c.batch_renorm.d_max = brn.value("d_max", c.batch_renorm.d_max);
      c.batch_renorm.warmup = brn.value("warmup", c.batch_renorm.warmup);
    }
    c.weight_standardization = json.value("weight_standardization", false);
    c.l1 = json.value("l1", c.l1);
    c.epochs = json.value("epochs", c.epochs);
    c.batch_size = json.value("batch_size", c.batch_size);
    c.lr = json.value("lr", c.lr);
    c.momentum = json.value("momentum", c.momentum);
    if (json.contains("scheduler")) {
      const nlohmann::json& s = json.at("scheduler");
      const auto kind = scheduler_from_flag(s.value("kind", std::string("none")));
      if (!kind) {
        throw RuntimeError(fmt::format("{}: unknown scheduler in the saved configuration", source));
      }
      c.schedule.kind = *kind;
      c.schedule.step_size = s.value("step_size", c.schedule.step_size);
      c.schedule.gamma = s.value("gamma", c.schedule.gamma);
      c.schedule.max_lr = s.value("max_lr", c.schedule.max_lr);
      c.schedule.pct_start = s.value("pct_start", c.schedule.pct_start);
      c.schedule.div_factor = s.value("div_factor", c.schedule.div_factor);
      c.schedule.final_div_factor = s.value("final_div_factor", c.schedule.final_div_factor);
    }
    c.dropout = json.value("dropout", c.dropout);
    c.seed = json.value("seed", c.seed);
    c.fused_kernels = json.value("kernels", std::string("fused")) == "fused";
    c.device = json.value("device", c.device);
    c.threads = json.value("threads", c.threads);
    const auto dataset = dataset_from_flag(json.value("dataset", std::string("mnist")));
    if (!dataset) {
      throw RuntimeError(fmt::format("{}: unknown dataset in the saved configuration", source));
    }
    c.dataset = *dataset;
    c.data_dir = json.value("data_dir", c.data_dir);
    c.limit_train = json.value("limit_train", c.limit_train);
    c.limit_test = json.value("limit_test", c.limit_test);
    c.misclassified = json.value("misclassified", c.misclassified);
    c.diagnostics_every = json.value("diagnostics_every", c.diagnostics_every);
    c.precise_bn = json.value("precise_bn", c.precise_bn);
    c.landscape_every = json.value("landscape_every", c.landscape_every);
    c.landscape_steps = json.value("landscape_steps", c.landscape_steps);
    if (const auto graphs = cuda_graphs_from_flag(json.value("cuda_graphs", std::string()))) {
      c.cuda_graphs = *graphs;
    }
    c.out_dir = json.value("out", c.out_dir);
    return c;
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeError(
        fmt::format("{}: the saved configuration cannot be read ({})", source, error.what()));
  }
}

}  // namespace normtrain
