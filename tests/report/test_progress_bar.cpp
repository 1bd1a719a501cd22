#include "normtrain/report/progress_bar.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

TEST(ProgressBar, RendersFractionCountsAndTimes) {
  EXPECT_EQ(ProgressBar::render("epoch 1/2", 5, 10, 2.0, 10),
            "epoch 1/2 [#####.....] 5/10 2.0s<2.0s");
  EXPECT_EQ(ProgressBar::render("epoch 2/2", 10, 10, 4.0, 4), "epoch 2/2 [####] 10/10 4.0s<0.0s");
  EXPECT_EQ(ProgressBar::render("e", 0, 10, 0.0, 4), "e [....] 0/10 0.0s<0.0s");
  // More done than announced must not throw.
  EXPECT_EQ(ProgressBar::render("e", 12, 10, 1.0, 4), "e [####] 12/10 1.0s<0.0s");
}

}  // namespace
}  // namespace normtrain
