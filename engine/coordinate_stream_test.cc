#include "engine/coordinate_stream.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

CoordinateStream MakeStream() { return CoordinateStream(*CoordinateRescaler::Create({})); }

TEST(CoordinateStreamTest, ReferenceSplitOverTokensIsHeldThenRescaled) {
  CoordinateStream stream = MakeStream();
  std::vector<std::string> out;
  for (const char* delta :
       {"The car", " <", "c1", ",CAM", "_FRONT,", "152", ".4,", "123.8", ">", " moves."}) {
    out.push_back(stream.Append(delta));
  }
  out.push_back(stream.Finish());
  EXPECT_EQ(out, (std::vector<std::string>{"The car", " ", "", "", "", "", "", "",
                                           "<c1,CAM_FRONT,1088.6,497.4>", " moves.", ""}));
}

TEST(CoordinateStreamTest, WholeTextEqualsTheBatchRescaleForAnySplit) {
  const std::string answer =
      "Objects: <c1,CAM_FRONT,152.4,123.8>, <c2,CAM_BACK,0.0,224.0> and a < b <c3,CAM,1,2.";
  const std::string expected = CoordinateRescaler::Create({})->ToSource(answer);
  for (size_t piece = 1; piece <= 7; ++piece) {
    CoordinateStream stream = MakeStream();
    std::string got;
    for (size_t i = 0; i < answer.size(); i += piece) got += stream.Append(answer.substr(i, piece));
    got += stream.Finish();
    EXPECT_EQ(got, expected) << "pieces of " << piece;
  }
}

TEST(CoordinateStreamTest, UnfinishedReferenceIsFlushedUntouchedAtTheEnd) {
  CoordinateStream stream = MakeStream();
  EXPECT_EQ(stream.Append("see <c1,CAM_FRONT,15"), "see ");
  EXPECT_EQ(stream.Finish(), "<c1,CAM_FRONT,15");
}

TEST(CoordinateStreamTest, NonReferenceAngleBracketIsNotHeld) {
  CoordinateStream stream = MakeStream();
  EXPECT_EQ(stream.Append("a <b"), "a <b");
  EXPECT_EQ(stream.Append("<c1 x"), "<c1 x");
}

TEST(CoordinateStreamTest, ImplausiblyLongPrefixIsReleased) {
  CoordinateStream stream = MakeStream();
  const std::string digits(CoordinateStream::kMaxHeldBytes, '1');
  const std::string text = "<c1,CAM_FRONT," + digits;
  EXPECT_EQ(stream.Append(text), text);
}

}  // namespace
}  // namespace drivelm::engine
