#include "normtrain/train/layer_diagnostics.hpp"

namespace normtrain {
namespace {

torch::Tensor convolution_weight(NormNet& model, const NormSite& site) {
  return model->layers()[site.conv]->named_parameters(/*recurse=*/false)["weight"];
}

// The norm's parameter `name` ("weight" or "bias"), undefined when it has none.
torch::Tensor norm_parameter(NormNet& model, const NormSite& site, const char* name) {
  if (!site.norm) return {};
  const auto parameters = model->layers()[*site.norm]->named_parameters(/*recurse=*/false);
  const torch::Tensor* found = parameters.find(name);
  return found != nullptr ? *found : torch::Tensor();
}

}  // namespace

torch::Tensor activation_statistics(const torch::Tensor& values) {
  const torch::NoGradGuard no_grad;
  const torch::Tensor x = values.to(torch::kFloat64);
  const torch::Tensor mean = x.mean();
  const torch::Tensor std = (x - mean).square().mean().sqrt();
  const torch::Tensor zero_fraction = x.eq(0).to(torch::kFloat64).mean();
  return torch::stack({mean, std, zero_fraction});
}

std::vector<torch::Tensor> block_conv_weights(NormNet& model) {
  const torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> weights;
  for (const NormSite& site : model->norm_sites()) {
    weights.push_back(convolution_weight(model, site).detach().clone());
  }
  return weights;
}

torch::Tensor layer_diagnostics_values(NormNet& model, const std::vector<NormSiteActivations>& taps,
                                       const std::vector<torch::Tensor>& weights_before) {
  const torch::NoGradGuard no_grad;
  const std::vector<NormSite>& sites = model->norm_sites();
  TORCH_CHECK(taps.size() == sites.size() && weights_before.size() == sites.size(),
              "layer_diagnostics: one tap and one weight per norm site");
  std::vector<torch::Tensor> values;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const torch::Tensor weight = convolution_weight(model, sites[i]);
    const torch::Tensor& before = weights_before[i];
    const torch::Tensor gradient =
        weight.grad().defined() ? weight.grad() : torch::zeros_like(weight);
    const torch::Tensor gamma = norm_parameter(model, sites[i], "weight");
    const torch::Tensor beta = norm_parameter(model, sites[i], "bias");
    const torch::Tensor nothing = torch::zeros({1}, before.options().dtype(torch::kFloat64));
    values.push_back(activation_statistics(taps[i].input));
    values.push_back(activation_statistics(taps[i].output).slice(0, 0, 2));
    values.push_back(
        torch::stack({before.to(torch::kFloat64).norm(), gradient.to(torch::kFloat64).norm(),
                      (weight - before).to(torch::kFloat64).norm()}));
    values.push_back(gamma.defined() ? gamma.to(torch::kFloat64).mean().reshape({1}) : nothing);
    values.push_back(beta.defined() ? beta.to(torch::kFloat64).mean().reshape({1}) : nothing);
  }
  return torch::cat(values);
}

std::vector<LayerDiagnostics> layer_diagnostics_rows(NormNet& model, const torch::Tensor& values,
                                                     std::int64_t step, int epoch) {
  const std::vector<NormSite>& sites = model->norm_sites();
  // Per site: in (3), out (2), weight, gradient and update norms, gamma and beta means.
  constexpr std::int64_t kValues = 10;
  TORCH_CHECK(values.numel() == kValues * static_cast<std::int64_t>(sites.size()),
              "layer_diagnostics_rows: ", kValues, " values per norm site expected");
  const torch::Tensor all = values.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* v = all.data_ptr<double>();
  std::vector<LayerDiagnostics> rows;
  for (std::size_t i = 0; i < sites.size(); ++i, v += kValues) {
    LayerDiagnostics row;
    row.step = step;
    row.epoch = epoch;
    row.layer = static_cast<int>(i) + 1;
    row.name = sites[i].name;
    row.in_mean = v[0];
    row.in_std = v[1];
    row.in_zero_frac = v[2];
    row.out_mean = v[3];
    row.out_std = v[4];
    row.weight_norm = v[5];
    row.grad_norm = v[6];
    row.update_ratio = v[5] > 0.0 ? v[7] / v[5] : 0.0;
    if (norm_parameter(model, sites[i], "weight").defined()) row.gamma_mean = v[8];
    if (norm_parameter(model, sites[i], "bias").defined()) row.beta_mean = v[9];
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<LayerDiagnostics> layer_diagnostics(NormNet& model,
                                                const std::vector<NormSiteActivations>& taps,
                                                const std::vector<torch::Tensor>& weights_before,
                                                std::int64_t step, int epoch) {
  return layer_diagnostics_rows(model, layer_diagnostics_values(model, taps, weights_before), step,
                                epoch);
}

}  // namespace normtrain
