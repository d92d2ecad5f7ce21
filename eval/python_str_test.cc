#include "eval/python_str.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(PythonStrTest, SplitOnWhitespaceRuns) {
  EXPECT_THAT(PythonSplit("  a \t b\n"), ElementsAre("a", "b"));
  EXPECT_THAT(PythonSplit(""), IsEmpty());
  // U+00A0 (no-break space) is whitespace for str.split().
  EXPECT_THAT(PythonSplit("1\xc2\xa0" "2"), ElementsAre("1", "2"));
}

TEST(PythonStrTest, SplitOnSpaceKeepsEmptyPieces) {
  EXPECT_THAT(PythonSplitOn("", ' '), ElementsAre(""));
  EXPECT_THAT(PythonSplitOn("a  b", ' '), ElementsAre("a", "", "b"));
  EXPECT_THAT(PythonSplitOn("1\xc2\xa0" "2", ' '), ElementsAre("1\xc2\xa0" "2"));
}

TEST(PythonStrTest, Rstrip) {
  EXPECT_EQ(PythonRstrip("ab \t\xc2\xa0"), "ab");
  EXPECT_EQ(PythonRstrip("   "), "");
  EXPECT_EQ(PythonRstrip("a\xff"), "a\xff");  // invalid bytes are not whitespace
}

}  // namespace
}  // namespace drivelm::eval
