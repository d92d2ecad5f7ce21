#include "engine/coordinate_rescaler.h"

#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

CoordinateRescaler DriveVlms() {
  absl::StatusOr<CoordinateRescaler> r = CoordinateRescaler::Create(CoordinateSpace{});
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

TEST(ScanCoordinateReferenceTest, ParsesACompleteReference) {
  CoordinateReference ref;
  ASSERT_EQ(ScanCoordinateReference("<c1,CAM_FRONT,1088.3,497.5> is", &ref), ReferenceScan::kMatch);
  EXPECT_EQ(ref.length, 27u);
  EXPECT_EQ(ref.head, "<c1,CAM_FRONT,");
  EXPECT_DOUBLE_EQ(ref.x, 1088.3);
  EXPECT_DOUBLE_EQ(ref.y, 497.5);

  ASSERT_EQ(ScanCoordinateReference("<c12,CAM_BACK_LEFT,-3,7>", &ref), ReferenceScan::kMatch);
  EXPECT_EQ(ref.head, "<c12,CAM_BACK_LEFT,");
  EXPECT_DOUBLE_EQ(ref.x, -3.0);
  EXPECT_DOUBLE_EQ(ref.y, 7.0);
}

TEST(ScanCoordinateReferenceTest, TellsIncompleteFromMalformed) {
  CoordinateReference ref;
  for (const char* prefix :
       {"<", "<c", "<c1", "<c1,", "<c1,CAM", "<c1,CAM_FRONT,", "<c1,CAM_FRONT,1",
        "<c1,CAM_FRONT,10.", "<c1,CAM_FRONT,-", "<c1,CAM_FRONT,1.5,", "<c1,CAM_FRONT,1.5,2.25"}) {
    EXPECT_EQ(ScanCoordinateReference(prefix, &ref), ReferenceScan::kIncomplete) << prefix;
  }
  for (const char* bad : {"c1,CAM,1,2>", "<d1,CAM,1,2>", "<c,CAM,1,2>", "<c1,,1,2>",
                          "<c1,CAM FRONT,1,2>", "<c1,CAM,1.,2>", "<c1,CAM,.5,2>", "<c1,CAM,1,2,3>",
                          "<c1, CAM,1,2>", "<c1,CAM,1;2>", "<c1,CAM,--1,2>", "<c1,CAM,1,2 >"}) {
    EXPECT_EQ(ScanCoordinateReference(bad, &ref), ReferenceScan::kNoMatch) << bad;
  }
}

TEST(CoordinateRescalerTest, ToModelScalesQuestionsInto224) {
  const CoordinateRescaler r = DriveVlms();
  // 1088.3 * 224/1600 = 152.36; 497.5 * 224/900 = 123.82.
  EXPECT_EQ(r.ToModel("What is the future state of <c1,CAM_FRONT,1088.3,497.5>?"),
            "What is the future state of <c1,CAM_FRONT,152.4,123.8>?");
  EXPECT_EQ(r.ToModel("<c2,CAM_BACK,0,0><c3,CAM_BACK,1600,900>"),
            "<c2,CAM_BACK,0.0,0.0><c3,CAM_BACK,224.0,224.0>");
}

TEST(CoordinateRescalerTest, ToSourceScalesAnswersBack) {
  const CoordinateRescaler r = DriveVlms();
  // 152.4 * 1600/224 = 1088.57; 123.8 * 900/224 = 497.41.
  EXPECT_EQ(r.ToSource("There is a car <c1,CAM_FRONT,152.4,123.8>."),
            "There is a car <c1,CAM_FRONT,1088.6,497.4>.");
}

TEST(CoordinateRescalerTest, MultipleReferencesAndSurroundingTextSurvive) {
  const CoordinateRescaler r = DriveVlms();
  EXPECT_EQ(r.ToModel("<c1,CAM_FRONT,1088.3,497.5>, <c2,CAM_FRONT_LEFT,804.2,475.8> and "
                      "<c3,CAM_BACK,-3.2,12>."),
            "<c1,CAM_FRONT,152.4,123.8>, <c2,CAM_FRONT_LEFT,112.6,118.4> and "
            "<c3,CAM_BACK,-0.4,3.0>.");  // -3.2 * 224/1600 = -0.448
}

TEST(CoordinateRescalerTest, NegativeZeroIsWrittenAsZero) {
  const CoordinateRescaler r = DriveVlms();
  EXPECT_EQ(r.ToModel("<c1,CAM_BACK,-0.2,-0.1>"), "<c1,CAM_BACK,0.0,0.0>");
  EXPECT_EQ(r.ToModel("<c1,CAM_BACK,-3.2,0>"), "<c1,CAM_BACK,-0.4,0.0>");
}

TEST(CoordinateRescalerTest, TextWithoutReferencesIsUnchanged) {
  const CoordinateRescaler r = DriveVlms();
  for (const char* text :
       {"", "No.", "What actions could the ego vehicle take?", "a < b > c", "<<<",
        "x <c1,CAM_FRONT,1088.3", "<c1,CAM_FRONT,1088.3,497.5", "<c1,CAM FRONT,1088.3,497.5>",
        "<c1,CAM_FRONT,1088.3;497.5>", "\xE6\x97\xA5\xE6\x9C\xAC <3"}) {
    EXPECT_EQ(r.ToModel(text), text);
    EXPECT_EQ(r.ToSource(text), text);
  }
}

TEST(CoordinateRescalerTest, MalformedNextToValidIsLeftAlone) {
  const CoordinateRescaler r = DriveVlms();
  EXPECT_EQ(r.ToModel("<c1,CAM,1,2<c2,CAM_FRONT,1600,900>"),
            "<c1,CAM,1,2<c2,CAM_FRONT,224.0,224.0>");
}

TEST(CoordinateRescalerTest, RoundTripStaysWithinRounding) {
  const CoordinateRescaler r = DriveVlms();
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> ux(0.0, 1600.0);
  std::uniform_real_distribution<double> uy(0.0, 900.0);
  // Writing 1 decimal in model space loses up to 0.05 model px = 0.36 / 0.20 camera px, plus
  // 0.05 for the final rounding.
  const double tol_x = 0.05 * 1600.0 / 224.0 + 0.05 + 1e-9;
  const double tol_y = 0.05 * 900.0 / 224.0 + 0.05 + 1e-9;
  for (int i = 0; i < 1000; ++i) {
    const double x = std::round(ux(rng) * 10) / 10;
    const double y = std::round(uy(rng) * 10) / 10;
    const std::string in = absl::StrFormat("<c1,CAM_FRONT,%.1f,%.1f>", x, y);
    const std::string back = r.ToSource(r.ToModel(in));
    CoordinateReference ref;
    ASSERT_EQ(ScanCoordinateReference(back, &ref), ReferenceScan::kMatch) << back;
    EXPECT_NEAR(ref.x, x, tol_x) << in << " -> " << back;
    EXPECT_NEAR(ref.y, y, tol_y) << in << " -> " << back;
  }
}

TEST(CoordinateRescalerTest, DecimalsComeFromTheSpace) {
  CoordinateSpace space;
  space.decimals = 3;
  const CoordinateRescaler r = *CoordinateRescaler::Create(space);
  EXPECT_EQ(r.ToModel("<c1,CAM_FRONT,1088.3,497.5>"), "<c1,CAM_FRONT,152.362,123.822>");
  space.decimals = 0;
  EXPECT_EQ(CoordinateRescaler::Create(space)->ToModel("<c1,CAM_FRONT,1088.3,497.5>"),
            "<c1,CAM_FRONT,152,124>");
}

TEST(CoordinateRescalerTest, BadSpaceIsRejectedNamingTheField) {
  CoordinateSpace space;
  space.model_height = 0;
  absl::Status s = CoordinateRescaler::Create(space).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("coordinates.model_height"));
  space = CoordinateSpace{};
  space.decimals = 9;
  s = CoordinateRescaler::Create(space).status();
  EXPECT_THAT(s.message(), HasSubstr("coordinates.decimals"));
}

}  // namespace
}  // namespace drivelm::engine
