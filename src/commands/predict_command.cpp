#include "normtrain/commands/predict_command.hpp"

#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "normtrain/common/error.hpp"
#include "normtrain/data/dataset.hpp"
#include "normtrain/data/image_input.hpp"
#include "normtrain/model/trained_model.hpp"
#include "normtrain/train/device.hpp"
#include "normtrain/train/torch_errors.hpp"
#include "normtrain/train/trainer.hpp"

namespace normtrain {

void run_predict(const PredictRequest& request, std::ostream& out) {
  with_torch_errors([&] {
    apply_thread_count(request.threads);
    const torch::Device device = resolve_device(request.device);
    TrainedModel trained = load_trained_model(request.checkpoint, "--checkpoint", device);
    const DatasetInfo& dataset = dataset_info(trained.config.dataset);

    std::vector<torch::Tensor> pixels;
    for (const std::string& path : request.images) {
      const DigitImage digit = load_digit_image(path, request.polarity);
      pixels.push_back(torch::from_blob(const_cast<std::uint8_t*>(digit.data()),
                                        {kImageSide, kImageSide}, torch::kUInt8)
                           .clone());
    }
    // The images as a data set without labels, sent through the network as the test pass does.
    const torch::Tensor stacked = torch::stack(pixels).to(device);
    const TensorDataset images{
        stacked, torch::zeros({stacked.size(0)}, stacked.options().dtype(torch::kInt64)),
        dataset.mean, dataset.std};
    const torch::Tensor probabilities = log_probabilities(trained.model, images)
                                            .exp()
                                            .to(torch::kCPU, torch::kFloat64)
                                            .contiguous();
    const auto p = probabilities.accessor<double, 2>();

    nlohmann::json results = nlohmann::json::array();
    for (std::size_t i = 0; i < request.images.size(); ++i) {
      int best = 0;
      std::vector<double> row;
      for (int c = 0; c < kNumClasses; ++c) {
        row.push_back(p[i][c]);
        if (p[i][c] > p[i][best]) best = c;
      }
      if (request.json) {
        results.push_back({{"image", request.images[i]},
                           {"class", best},
                           {"label", dataset.class_names[best]},
                           {"probability", p[i][best]},
                           {"probabilities", row}});
      } else {
        out << fmt::format("{}: {} ({:.1f}%)\n", request.images[i], dataset.class_names[best],
                           100.0 * p[i][best]);
      }
    }
    if (request.json) out << results.dump(2) << "\n";
  });
}

}  // namespace normtrain
