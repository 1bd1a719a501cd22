#include "normtrain/report/raster_image.hpp"

#include <gtest/gtest.h>
#include <stb_image.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

TEST(RasterImage, GrayIsEnlargedWithCrispPixels) {
  RasterImage image(10, 10, {255, 255, 255});
  const std::uint8_t gray[4] = {0, 50, 100, 255};  // 2 x 2
  image.draw_gray(1, 2, gray, 2, 3);
  EXPECT_EQ(image.at(1, 2), (Rgb{0, 0, 0}));
  EXPECT_EQ(image.at(3, 4), (Rgb{0, 0, 0}));  // still inside the first enlarged pixel
  EXPECT_EQ(image.at(4, 2), (Rgb{50, 50, 50}));
  EXPECT_EQ(image.at(1, 5), (Rgb{100, 100, 100}));
  EXPECT_EQ(image.at(6, 7), (Rgb{255, 255, 255}));
  EXPECT_EQ(image.at(0, 0), (Rgb{255, 255, 255}));
}

TEST(RasterImage, TextLeavesInkWhereItIsDrawnOnly) {
  RasterImage image(100, 40, {255, 255, 255});
  image.draw_text(5, 5, "pred 9", 2, {200, 0, 0});
  int ink = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) {
      if (image.at(x, y) == Rgb{200, 0, 0}) {
        ++ink;
        EXPECT_GE(x, 5);
        EXPECT_LT(x, 5 + RasterImage::text_width("pred 9", 2));
      }
    }
  }
  EXPECT_GT(ink, 50);
}

TEST(RasterImage, FillIsClippedToTheImage) {
  RasterImage image(4, 4, {0, 0, 0});
  image.fill_rect(-2, -2, 100, 3, {9, 9, 9});
  EXPECT_EQ(image.at(3, 0), (Rgb{9, 9, 9}));
  EXPECT_EQ(image.at(3, 1), (Rgb{0, 0, 0}));
}

TEST(RasterImage, PngRoundTripsThroughADecoder) {
  testing::TempDir dir;
  RasterImage image(7, 5, {10, 20, 30});
  image.fill_rect(2, 1, 2, 2, {250, 0, 125});
  const std::string path = (dir.path() / "x.png").string();
  write_png(path, image);
  int width = 0;
  int height = 0;
  int channels = 0;
  unsigned char* decoded = stbi_load(path.c_str(), &width, &height, &channels, 3);
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(width, 7);
  EXPECT_EQ(height, 5);
  EXPECT_TRUE(std::equal(image.pixels().begin(), image.pixels().end(), decoded));
  stbi_image_free(decoded);
}

// The message of the runtime Error that write_png throws; a test failure when it throws none.
std::string png_error(const std::filesystem::path& path) {
  try {
    write_png(path.string(), RasterImage(3, 3, {0, 0, 0}));
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    return error.what();
  }
  ADD_FAILURE() << "write_png did not throw";
  return {};
}

TEST(RasterImage, AFullDiskIsAnErrorNamingThePicture) {
  testing::TempDir dir;
  const std::filesystem::path path = dir.path() / "misclassified.png";
  // Writes to /dev/full fail with ENOSPC, as on a full disk.
  std::filesystem::create_symlink("/dev/full", dir.path() / "misclassified.png.tmp");
  const std::string message = png_error(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(RasterImage, AFileWhereTheFolderShouldBeIsAnError) {
  testing::TempDir dir;
  testing::write_bytes(dir.path() / "out", {1});
  const std::filesystem::path path = dir.path() / "out" / "misclassified.png";
  const std::string message = png_error(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("Not a directory"), std::string::npos) << message;
}

}  // namespace
}  // namespace normtrain
