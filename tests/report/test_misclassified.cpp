#include "normtrain/report/misclassified.hpp"

#include <gtest/gtest.h>
#include <stb_image.h>

#include "normtrain/data/dataset_info.hpp"
#include "normtrain/report/evaluation_report.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

// A test set of `count` images; image i is filled with the grey level 10 * i.
MnistSplit synthetic_test_set(int count) {
  MnistSplit split;
  split.count = count;
  for (int i = 0; i < count; ++i) {
    split.images.insert(split.images.end(), kImageSide * kImageSide,
                        static_cast<std::uint8_t>(10 * i));
    split.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return split;
}

TEST(Misclassified, FirstErrorsInTestSetOrder) {
  const std::vector<std::uint8_t> actual = {1, 2, 3, 4, 5, 6};
  const std::vector<std::uint8_t> predicted = {1, 7, 3, 9, 0, 6};
  const std::vector<float> confidence = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
  const auto found = first_misclassified(actual, predicted, confidence, 2);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].index, 1);
  EXPECT_EQ(found[0].actual, 2);
  EXPECT_EQ(found[0].predicted, 7);
  EXPECT_EQ(found[1].index, 3);
  EXPECT_EQ(first_misclassified(actual, predicted, confidence, 10).size(), 3u);
  EXPECT_EQ(misclassified_csv(found),
            "index,actual,predicted,confidence\n1,2,7,0.8000\n3,4,9,0.6000\n");
}

TEST(Misclassified, GridSizeFollowsCountAndTileSize) {
  const GridLayout ten = misclassified_grid_layout(10);
  EXPECT_EQ(ten.columns, 5);
  EXPECT_EQ(ten.rows, 2);
  EXPECT_GE(ten.tile_width, 28 * 3);
  EXPECT_EQ(ten.width, 5 * ten.tile_width);
  EXPECT_EQ(ten.height, ten.title_height + 2 * ten.tile_height);
  const GridLayout three = misclassified_grid_layout(3);
  EXPECT_EQ(three.columns, 3);
  EXPECT_EQ(three.rows, 1);
  const GridLayout many = misclassified_grid_layout(36);
  EXPECT_EQ(many.columns, 6);
  EXPECT_EQ(many.rows, 6);
  EXPECT_EQ(misclassified_grid_layout(11).rows, 3);
}

TEST(Misclassified, KnownImagesGiveKnownPixelsInThePng) {
  testing::TempDir dir;
  const MnistSplit test = synthetic_test_set(12);
  TestPredictions predictions;
  for (int i = 0; i < 12; ++i) {
    // Every third example is wrong: 0, 3, 6, 9.
    predictions.predicted.push_back(static_cast<std::uint8_t>(i % 3 == 0 ? (i + 1) % 10 : i % 10));
    predictions.confidence.push_back(0.5f);
  }
  write_evaluation_report(dir.path(), test, predictions, 3,
                          dataset_info(DatasetKind::kMnist).class_names);

  int width = 0;
  int height = 0;
  int channels = 0;
  const std::string png = (dir.path() / "misclassified.png").string();
  unsigned char* pixels = stbi_load(png.c_str(), &width, &height, &channels, 3);
  ASSERT_NE(pixels, nullptr);
  const GridLayout layout = misclassified_grid_layout(3);
  EXPECT_EQ(width, layout.width);
  EXPECT_EQ(height, layout.height);
  // The middle of each digit area shows its example's grey level, enlarged: 0, 30, 60.
  const auto grey_at = [&](int x, int y) { return pixels[(y * width + x) * 3]; };
  const int digit_middle = 14 * kDigitScale;
  for (int tile = 0; tile < 3; ++tile) {
    const int x = tile * layout.tile_width + 6 + digit_middle;
    const int y = layout.title_height + 6 + digit_middle;
    EXPECT_EQ(grey_at(x, y), 30 * tile) << "tile " << tile;
  }
  stbi_image_free(pixels);

  EXPECT_EQ(testing::read_text(dir.path() / "misclassified.csv"),
            "index,actual,predicted,confidence\n0,0,1,0.5000\n3,3,4,0.5000\n6,6,7,0.5000\n");
  const std::string confusion = testing::read_text(dir.path() / "confusion.csv");
  // Label 0 twice (examples 0 and 10): once predicted 1, once right.
  EXPECT_NE(confusion.find("\n0,1,1,0,0,0,0,0,0,0,0\n"), std::string::npos) << confusion;
}

TEST(Misclassified, ZeroErrorsStillGiveAPicture) {
  testing::TempDir dir;
  const MnistSplit test = synthetic_test_set(3);
  write_evaluation_report(dir.path(), test, {{0, 1, 2}, {1.f, 1.f, 1.f}}, 10,
                          dataset_info(DatasetKind::kMnist).class_names);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "misclassified.png"));
  EXPECT_EQ(testing::read_text(dir.path() / "misclassified.csv"),
            "index,actual,predicted,confidence\n");
}

}  // namespace
}  // namespace normtrain
