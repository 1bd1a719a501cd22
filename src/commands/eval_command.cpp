#include "normtrain/commands/eval_command.hpp"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/data/data_preparation.hpp"
#include "normtrain/data/dataset.hpp"
#include "normtrain/data/mnist.hpp"
#include "normtrain/model/trained_model.hpp"
#include "normtrain/report/evaluation_report.hpp"
#include "normtrain/train/checkpoint.hpp"
#include "normtrain/train/device.hpp"
#include "normtrain/train/folder_lock.hpp"
#include "normtrain/train/interrupt.hpp"
#include "normtrain/train/precise_batch_norm.hpp"
#include "normtrain/train/torch_errors.hpp"
#include "normtrain/train/trainer.hpp"

namespace normtrain {

void run_eval(const EvalRequest& request, std::ostream& out) {
  with_torch_errors([&] {
    apply_thread_count(request.threads);
    const torch::Device device = resolve_device(request.device);
    TrainedModel trained = load_trained_model(request.checkpoint, "--checkpoint", device);
    if (request.precise_bn > 0 && !has_running_statistics(trained.config.norm)) {
      throw UsageError(fmt::format(
          "--precise-bn: the run in {} has --norm {}, which keeps no running statistics to "
          "recompute (only bn and brn do)",
          request.checkpoint, to_flag(trained.config.norm)));
    }
    // The run's own data and test subset, unless the request says otherwise.
    TrainConfig config = trained.config;
    if (request.data_dir) config.data_dir = *request.data_dir;
    if (request.limit_test) config.limit_test = *request.limit_test;
    config.download = request.download;
    config.mirror = request.mirror;
    config.quiet = request.quiet;
    const std::filesystem::path out_dir = request.out_dir.empty()
                                              ? run_folder_of(trained.checkpoint)
                                              : std::filesystem::path(request.out_dir);
    ensure_writable_dir(out_dir, "--out");
    // eval rewrites report files in the folder: no run may be writing there meanwhile.
    const FolderLock lock(out_dir);

    {
      // Ctrl-C during a download stops it cleanly, with no partial file left.
      const InterruptGuard interrupt_guard;
      prepare_data(config);
    }
    const DatasetInfo& dataset = dataset_info(config.dataset);
    const MnistSplit test_split =
        load_mnist_split(config.data_dir, Split::kTest, config.limit_test);
    const TensorDataset test = to_tensor_dataset(test_split, device, dataset);
    const EvalResult result = evaluate(trained.model, test);
    write_evaluation_report(out_dir, test_split, to_test_predictions(result), request.misclassified,
                            dataset.class_names);
    out << fmt::format(
        "{} after {} epoch{}: test loss {:.6f}, accuracy {:.2f}% ({} of {} {} "
        "test images)\n",
        variant_label(config), trained.epochs, trained.epochs == 1 ? "" : "s", result.loss,
        result.accuracy, result.correct, test.size(), dataset.title);
    if (request.precise_bn > 0) {
      const TensorDataset train = to_tensor_dataset(
          load_mnist_split(config.data_dir, Split::kTrain, config.limit_train), device, dataset);
      const EvalResult precise = evaluate_with_precise_statistics(
          trained.model, train, request.precise_bn, config.batch_size, test);
      out << fmt::format(
          "with precise BatchNorm statistics from {} training images: test loss {:.6f}, "
          "accuracy {:.2f}% ({} of {})\n",
          std::min(request.precise_bn, train.size()), precise.loss, precise.accuracy,
          precise.correct, test.size());
    }
  });
}

}  // namespace normtrain
