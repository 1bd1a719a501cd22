#pragma once

#include <cstdint>

#include "normtrain/data/dataset.hpp"
#include "normtrain/data/dataset_info.hpp"
#include "normtrain/data/mnist.hpp"
#include "test_support.hpp"

namespace normtrain::testing {

// The committed MNIST subset as CPU tensors, cut to its first `limit` images (0: all).
inline TensorDataset tiny_mnist(Split split, std::int64_t limit = 0) {
  return to_tensor_dataset(load_mnist_split(tiny_mnist_dir(), split, limit), torch::kCPU,
                           dataset_info(DatasetKind::kMnist));
}

}  // namespace normtrain::testing
