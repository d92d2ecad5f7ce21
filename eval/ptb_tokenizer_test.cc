#include "eval/ptb_tokenizer.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace drivelm::eval {
namespace {

using ::testing::ElementsAre;

nlohmann::json LoadCases() {
  std::ifstream in("eval/testdata/ptb_tokenizer_cases.json");
  EXPECT_TRUE(in.good()) << "eval/testdata/ptb_tokenizer_cases.json not found";
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    out += lines[i];
  }
  return out;
}

// The edge cases and 400 fuzz lines, tokenized in one batch by the CoreNLP 3.4.1 jar
// (tools/eval/check_ptb_tokenizer.py --write_cases).
TEST(PtbTokenizerTest, MatchesCoreNlpJarOnCommittedCases) {
  const nlohmann::json cases = LoadCases();
  const std::vector<std::string> lines = cases["raw_batch"]["lines"];
  const std::vector<std::string> expected = cases["raw_batch"]["expected"];
  const std::vector<std::string> got = PtbTokenizeRawLines(Join(lines));
  ASSERT_GE(got.size(), lines.size());
  int differ = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(got[i], expected[i]) << "line " << i << ": " << lines[i];
    differ += got[i] != expected[i];
  }
  EXPECT_EQ(differ, 0);
}

// pycocoevalcap's caption pipeline: punctuation removed, empty captions kept, and a caption with
// an extra line break (\r, \u2028, \u2029, \v, \f) shifts the later captions.
TEST(PtbTokenizerTest, CaptionBatchAsPycocoevalcap) {
  const nlohmann::json cases = LoadCases();
  const std::vector<std::string> captions = cases["caption_batch"]["captions"];
  const std::vector<std::string> expected = cases["caption_batch"]["expected"];
  EXPECT_EQ(PtbTokenizeCaptions(captions), expected);
}

TEST(PtbTokenizerTest, DriveLmObjectTags) {
  EXPECT_THAT(PtbTokenizeCaptions({"There is a car <c1,CAM_FRONT,1088.3,497.5> ahead."}),
              ElementsAre("there is a car < c1 cam_front ,1088.3,497.5 > ahead"));
  // Spaces inside the tag change the tokens.
  EXPECT_THAT(PtbTokenizeCaptions({"<c1, CAM_FRONT, 1088.3, 497.5>"}),
              ElementsAre("< c1 cam_front 1088.3 497.5 >"));
}

TEST(PtbTokenizerTest, ParenthesesSurviveAsLowercasedTokens) {
  // -lowerCase runs after the lexer: "-LRB-" becomes "-lrb-", which is not in the list.
  EXPECT_THAT(PtbTokenizeCaptions({"(c, s) [x] {y}"}),
              ElementsAre("-lrb- c s -rrb- -lsb- x -rsb- -lcb- y -rcb-"));
}

TEST(PtbTokenizerTest, ContractionsAndQuotes) {
  EXPECT_THAT(PtbTokenizeCaptions({"The ego vehicle's car can't go; it's \"safe\"."}),
              ElementsAre("the ego vehicle 's car ca n't go it 's safe"));
  EXPECT_THAT(PtbTokenizeCaptions({"cannot gonna"}), ElementsAre("can not gon na"));
}

TEST(PtbTokenizerTest, AbbreviationsKeepTheirPeriod) {
  EXPECT_THAT(PtbTokenizeCaptions({"e.g. U.S. etc. Mr. Smith, No. 5, approx. 5"}),
              ElementsAre("e.g. u.s. etc. mr. smith no. 5 approx 5"));
}

TEST(PtbTokenizerTest, SingleLetterBeforeSentenceStarterLosesPeriod) {
  // ACRONYM followed by "The": "B." -> "b" + "." (the period is dropped as punctuation); the
  // next caption is part of the lexer's look-ahead.
  EXPECT_THAT(PtbTokenizeCaptions({"Option B. The car", "Option B. the car"}),
              ElementsAre("option b the car", "option b. the car"));
  EXPECT_THAT(PtbTokenizeCaptions({"The answer is B.", "The next"}),
              ElementsAre("the answer is b", "the next"));
  EXPECT_THAT(PtbTokenizeCaptions({"The answer is B.", "the next"}),
              ElementsAre("the answer is b.", "the next"));
}

TEST(PtbTokenizerTest, EmptyAndPunctuationOnly) {
  EXPECT_THAT(PtbTokenizeCaptions({"", "...", " ", "--"}), ElementsAre("", "", "", ""));
  EXPECT_TRUE(PtbTokenizeCaptions({}).empty());
}

TEST(PtbTokenizerTest, InvalidUtf8DoesNotCrash) {
  const std::vector<std::string> out = PtbTokenizeCaptions({std::string("a\xff\xfe b\xc3"), "c"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], "c");
}

TEST(PtbTokenizerTest, PunctuationList) {
  EXPECT_EQ(PtbPunctuations().size(), 17u);
}

}  // namespace
}  // namespace drivelm::eval
