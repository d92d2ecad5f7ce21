#include "clients/progress_bar.h"

#include <cstdio>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::clients {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(FormatDurationTest, Units) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(12.4), "12s");
  EXPECT_EQ(FormatDuration(444), "7m24s");
  EXPECT_EQ(FormatDuration(3720), "1h02m");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "?");
}

TEST(FormatProgressTest, BarCountsRateEta) {
  // 40 of 100 at 4/s: 60 left, 15 s.
  EXPECT_EQ(FormatProgress(40, 100, 0, "questions", 4, 10),
            "[####------]  40/100 questions | 4/s | ETA 15s");
  // Failed ones are done too for the ETA: (100 - 40 - 20) / 4 = 10 s.
  EXPECT_EQ(FormatProgress(40, 100, 20, "questions", 4, 0),
            " 40/100 questions (20 failed) | 4/s | ETA 10s");
  EXPECT_EQ(FormatProgress(0, 7, 0, "frames", 0, 0), "0/7 frames | ETA ?");
  EXPECT_THAT(FormatProgress(7, 7, 0, "frames", 2, 4), StartsWith("[####] 7/7"));
  EXPECT_THAT(FormatProgress(0, 0, 0, "frames", 0, 4), StartsWith("[####]"));  // nothing to do
}

TEST(ProgressBarTest, PlainLinesWhenNotATerminal) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  {
    ProgressBar bar(out, 10, "questions", /*tty=*/false, absl::Hours(1));
    bar.Update(1, 0);  // first update draws
    bar.Update(2, 0);  // within the interval: skipped
    bar.Finish(10, 0);
  }
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  EXPECT_THAT(text, StartsWith("progress:  1/10 questions"));
  EXPECT_THAT(text, HasSubstr("\nprogress: 10/10 questions"));
  EXPECT_EQ(text.find("2/10"), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(ProgressBarTest, RedrawsInPlaceOnATerminal) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  {
    ProgressBar bar(out, 4, "frames", /*tty=*/true);
    bar.Update(1, 0);
    bar.Finish(4, 0);
  }
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  EXPECT_THAT(text, StartsWith("\r["));
  EXPECT_THAT(text, HasSubstr("\033[K"));
  EXPECT_EQ(text.back(), '\n');
  EXPECT_THAT(text, HasSubstr("4/4 frames"));
}

}  // namespace
}  // namespace drivelm::clients
