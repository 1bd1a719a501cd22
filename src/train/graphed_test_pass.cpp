#include "normtrain/train/graphed_test_pass.hpp"

#include "normtrain/train/trainer.hpp"

namespace normtrain {

torch::Tensor GraphedTestPass::run(NormNet& model, const TensorDataset& test,
                                   std::int64_t batch_size) {
  const void* images = test.images.data_ptr();
  if (images != images_ || test.size() != size_ || batch_size != batch_size_) {
    // The old graph's output goes first, so that its memory pool can go with the graph.
    log_probs_ = torch::Tensor();
    graph_ = CudaGraph();
    images_ = images;
    size_ = test.size();
    batch_size_ = batch_size;
    return log_probabilities(model, test, batch_size);
  }
  if (graph_.empty()) {
    try {
      graph_.capture([&] { log_probs_ = log_probabilities(model, test, batch_size); });
    } catch (...) {
      log_probs_ = torch::Tensor();
      throw;
    }
  }
  model->eval();  // as log_probabilities leaves it
  graph_.replay();
  return log_probs_.clone();
}

}  // namespace normtrain
