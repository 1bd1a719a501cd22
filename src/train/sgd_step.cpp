#include "normtrain/train/sgd_step.hpp"

#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_zero.h>

#include "normtrain/train/dense_cpu_float.hpp"

namespace normtrain {

namespace {

// The key of a parameter's entry in the optimizer's state: its TensorImpl's address, before
// LibTorch 2 as a string (printed as its c10::guts::to_string, gone since, printed it), since
// then the pointer itself.
template <typename Key>
Key state_key(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;
    address << parameter.unsafeGetTensorImpl();
    return address.str();
  } else {
    return parameter.unsafeGetTensorImpl();
  }
}

// buffer = momentum * buffer + gradient, rounded as LibTorch's mul_ and then add_ (alpha 1)
// round it: the product once, then the sum once. This file is compiled without contraction
// (-ffp-contract=off), so that no fused multiply-add joins the two roundings.
void add_to_momentum(float* buffer, const float* gradient, float momentum, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) {
    const float decayed = buffer[i] * momentum;
    buffer[i] = decayed + gradient[i];
  }
}

bool is_plain_momentum(const torch::optim::SGDOptions& options) {
  return options.weight_decay() == 0.0 && options.dampening() == 0.0 && !options.nesterov();
}

}  // namespace

void sgd_step(torch::optim::SGD& optimizer) {
  // Weight decay, dampening and Nesterov momentum are LibTorch's own to do: no flag sets them.
  for (const torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    if (!is_plain_momentum(static_cast<const torch::optim::SGDOptions&>(group.options()))) {
      optimizer.step();
      return;
    }
  }
  torch::NoGradGuard no_grad;
  auto& state = optimizer.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    const auto& options = static_cast<const torch::optim::SGDOptions&>(group.options());
    const double momentum = options.momentum();
    // Buffers not in dense CPU floats of the gradients' layout (on a GPU, say) are updated
    // together by LibTorch's multi-tensor operators: three launches for all of them rather
    // than three a parameter, with the same arithmetic as mul_ and add_.
    std::vector<torch::Tensor> batched_parameters;
    std::vector<torch::Tensor> batched_buffers;
    std::vector<torch::Tensor> batched_gradients;
    for (torch::Tensor& parameter : group.params()) {
      const torch::Tensor& gradient = parameter.grad();
      if (!gradient.defined()) continue;
      torch::Tensor step = gradient;
      if (momentum != 0.0) {
        const Key key = state_key<Key>(parameter);
        const auto found = state.find(key);
        if (found == state.end()) {
          // The first step's buffer is the gradient itself, as LibTorch starts it.
          auto fresh = std::make_unique<torch::optim::SGDParamState>();
          fresh->momentum_buffer(torch::clone(gradient).detach());
          step = fresh->momentum_buffer();
          state[key] = std::move(fresh);
        } else {
          step = static_cast<torch::optim::SGDParamState&>(*found->second).momentum_buffer();
          if (!(is_dense_cpu_float(step) && is_dense_cpu_float(gradient) &&
                step.strides() == gradient.strides())) {
            batched_parameters.push_back(parameter);
            batched_buffers.push_back(step);
            batched_gradients.push_back(gradient);
            continue;
          }
          add_to_momentum(step.data_ptr<float>(), gradient.data_ptr<float>(),
                          static_cast<float>(momentum), step.numel());
        }
      }
      // LibTorch's own kernel, so that the update rounds as it does (fused or not per ISA).
      parameter.add_(step, -options.lr());
    }
    if (!batched_parameters.empty()) {
      at::_foreach_mul_(batched_buffers, momentum);
      at::_foreach_add_(batched_buffers, batched_gradients);
      at::_foreach_add_(batched_parameters, batched_buffers, -options.lr());
    }
  }
}

void zero_gradients_in_place(const std::vector<torch::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> gradients;
  gradients.reserve(parameters.size());
  for (const torch::Tensor& parameter : parameters) {
    if (parameter.grad().defined()) gradients.push_back(parameter.grad());
  }
  // One launch for all of them on a GPU.
  if (!gradients.empty()) at::_foreach_zero_(gradients);
}

}  // namespace normtrain
