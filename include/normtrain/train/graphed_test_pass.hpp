#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "normtrain/data/dataset.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/train/cuda_graph.hpp"

namespace normtrain {

// A test pass on a CUDA device replayed from a captured graph: its log_probabilities, a few
// thousand operator calls at batch kEvalBatchSize, in one launch. The first pass over a test
// set runs eagerly (cuDNN settles on the test batches' shapes outside a capture); the second
// is captured and replayed, as is every later one. The graph reads the model's parameters and
// buffers where they are, which training updates in place.
class GraphedTestPass {
 public:
  // log_probabilities(model, test, batch_size), on the stream of a CudaStreamScope. Throws when
  // the pass cannot be captured; the next call then captures again.
  torch::Tensor run(NormNet& model, const TensorDataset& test, std::int64_t batch_size);

 private:
  // The test set seen last, by where its images are: another one is a first pass again.
  const void* images_ = nullptr;
  std::int64_t size_ = 0;
  std::int64_t batch_size_ = 0;
  CudaGraph graph_;
  torch::Tensor log_probs_;
};

}  // namespace normtrain
