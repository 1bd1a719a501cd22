#include "normtrain/report/evaluation_report.hpp"

#include <algorithm>

#include "normtrain/common/file_io.hpp"
#include "normtrain/report/confusion_matrix.hpp"
#include "normtrain/report/misclassified.hpp"
#include "normtrain/report/raster_image.hpp"

namespace normtrain {

void write_evaluation_report(const std::filesystem::path& out_dir, const MnistSplit& test,
                             const TestPredictions& predictions, int misclassified_count,
                             const std::vector<std::string>& class_names) {
  const ConfusionMatrix matrix = confusion_matrix(test.labels, predictions.predicted);
  write_file_atomically(out_dir / "confusion.csv", confusion_csv(matrix, class_names));
  if (misclassified_count <= 0) return;

  const std::vector<Misclassified> examples = first_misclassified(
      test.labels, predictions.predicted, predictions.confidence, misclassified_count);
  std::int64_t total_errors = 0;
  for (std::size_t i = 0; i < test.labels.size(); ++i) {
    total_errors += test.labels[i] != predictions.predicted[i] ? 1 : 0;
  }
  write_file_atomically(out_dir / "misclassified.csv", misclassified_csv(examples));
  write_png((out_dir / "misclassified.png").string(),
            misclassified_grid(test, examples, total_errors, class_names));
}

}  // namespace normtrain
