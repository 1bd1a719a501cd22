#include "normtrain/model/trained_model.hpp"

#include "normtrain/model/convolution_check.hpp"
#include "normtrain/train/checkpoint.hpp"
#include "normtrain/train/trainer.hpp"

namespace normtrain {

TrainedModel load_trained_model(const std::string& path, const std::string& flag,
                                const torch::Device& device) {
  TrainedModel trained;
  trained.checkpoint = find_checkpoint(path, flag);
  const CheckpointInfo info = read_checkpoint_info(trained.checkpoint);
  trained.config = info.config;
  trained.epochs = info.epoch;
  trained.model = NormNet(model_options(info.config));
  trained.model->to(device);
  restore_model(trained.checkpoint, trained.model, device);
  trained.model->eval();
  // Before it computes anything: a wrong convolution must not evaluate silently.
  ensure_correct_convolutions(trained.model, kEvalBatchSize, ConvolutionUse::kEvaluation);
  return trained;
}

}  // namespace normtrain
