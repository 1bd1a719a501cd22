#include "normtrain/report/confusion_matrix.hpp"

#include <algorithm>
#include <numeric>

#include <gtest/gtest.h>

#include "normtrain/data/dataset_info.hpp"

namespace normtrain {
namespace {

TEST(ConfusionMatrix, CountsSumToTheTestSizeAndDiagonalIsCorrect) {
  const std::vector<std::uint8_t> actual = {0, 1, 2, 3, 3, 9, 9, 9, 4, 7};
  const std::vector<std::uint8_t> predicted = {0, 1, 2, 5, 3, 9, 4, 9, 4, 1};
  const ConfusionMatrix matrix = confusion_matrix(actual, predicted);
  std::int64_t total = 0;
  std::int64_t diagonal = 0;
  for (int a = 0; a < kNumClasses; ++a) {
    total += std::accumulate(matrix[a].begin(), matrix[a].end(), std::int64_t{0});
    diagonal += matrix[a][a];
  }
  EXPECT_EQ(total, 10);
  EXPECT_EQ(diagonal, 7);  // the pairs that agree
  EXPECT_EQ(matrix[3][5], 1);
  EXPECT_EQ(matrix[9][4], 1);
  EXPECT_EQ(matrix[7][1], 1);
  EXPECT_EQ(matrix[9][9], 2);
}

TEST(ConfusionMatrix, FashionMnistRowsAndColumnsAreNamed) {
  const std::string csv = confusion_csv(confusion_matrix({9}, {9}),
                                        dataset_info(DatasetKind::kFashionMnist).class_names);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "actual/predicted,T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,"
            "Ankle boot");
  EXPECT_NE(csv.find("\nAnkle boot,0,0,0,0,0,0,0,0,0,1\n"), std::string::npos) << csv;
}

TEST(ConfusionMatrix, CsvHasHeaderAndLabelColumn) {
  const std::string csv = confusion_csv(confusion_matrix({2, 2, 0}, {2, 1, 0}),
                                        dataset_info(DatasetKind::kMnist).class_names);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "actual/predicted,0,1,2,3,4,5,6,7,8,9");
  EXPECT_NE(csv.find("\n0,1,0,0,0,0,0,0,0,0,0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\n2,0,1,1,0,0,0,0,0,0,0\n"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 11);
}

}  // namespace
}  // namespace normtrain
