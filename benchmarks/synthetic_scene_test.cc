#include "benchmarks/synthetic_scene.h"

#include <turbojpeg.h>

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::benchmarks {
namespace {

using ::testing::HasSubstr;

SyntheticSceneOptions Small() {
  SyntheticSceneOptions o;
  o.width = 160;
  o.height = 90;
  o.questions = 9;
  o.seed = 3;
  return o;
}

std::pair<int, int> JpegSize(const std::string& bytes) {
  tjhandle h = tjInitDecompress();
  int w = 0, height = 0, subsamp = 0, colorspace = 0;
  const int rc = tjDecompressHeader3(h, reinterpret_cast<const unsigned char*>(bytes.data()),
                                     bytes.size(), &w, &height, &subsamp, &colorspace);
  tjDestroy(h);
  return rc == 0 ? std::make_pair(w, height) : std::make_pair(-1, -1);
}

TEST(SyntheticSceneTest, SixDistinctDecodableCamerasAndQuestions) {
  absl::StatusOr<SyntheticScene> s = MakeSyntheticScene(Small(), 0);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->images.size(), 6u);
  std::set<std::string> cameras, contents;
  for (const clients::EncodedImage& image : s->images) {
    cameras.insert(image.camera);
    contents.insert(image.data);
    EXPECT_EQ(JpegSize(image.data), std::make_pair(160, 90)) << image.camera;
  }
  EXPECT_EQ(cameras, (std::set<std::string>{"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                                            "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT"}));
  EXPECT_EQ(contents.size(), 6u);  // every camera differs
  ASSERT_EQ(s->scene.questions.size(), 9u);
  EXPECT_EQ(s->scene.questions[0].id, "q0");
  EXPECT_EQ(s->scene.questions[8].id, "q8");
  EXPECT_THAT(s->scene.questions[0].text, HasSubstr("important objects"));
  EXPECT_THAT(s->scene.questions[1].text, HasSubstr("<c2,CAM_"));
  EXPECT_EQ(s->scene.questions[7].stage, "behavior");
}

TEST(SyntheticSceneTest, DeterministicPerIndexDistinctAcrossIndexes) {
  const SyntheticScene a = *MakeSyntheticScene(Small(), 5);
  const SyntheticScene again = *MakeSyntheticScene(Small(), 5);
  const SyntheticScene b = *MakeSyntheticScene(Small(), 6);
  for (size_t c = 0; c < 6; ++c) {
    EXPECT_EQ(a.images[c].data, again.images[c].data);
    EXPECT_NE(a.images[c].data, b.images[c].data) << a.images[c].camera;
  }
  EXPECT_NE(a.scene.questions[1].text, b.scene.questions[1].text);  // other coordinates
  EXPECT_NE(a.scene.scene_id, b.scene.scene_id);
  SyntheticSceneOptions other_seed = Small();
  other_seed.seed = 4;
  EXPECT_NE(MakeSyntheticScene(other_seed, 5)->images[0].data, a.images[0].data);
}

TEST(SyntheticSceneTest, RepeatGivesSceneZeroEveryTime) {
  SyntheticSceneOptions o = Small();
  o.repeat = true;
  const SyntheticScene a = *MakeSyntheticScene(o, 1);
  const SyntheticScene b = *MakeSyntheticScene(o, 2);
  for (size_t c = 0; c < 6; ++c) EXPECT_EQ(a.images[c].data, b.images[c].data);
  EXPECT_EQ(a.scene.questions[1].text, b.scene.questions[1].text);
}

TEST(SyntheticSceneTest, FullSizeJpegsAreCameraLike) {
  SyntheticSceneOptions o;  // 1600x900
  o.questions = 1;
  absl::StatusOr<SyntheticScene> s = MakeSyntheticScene(o, 0);
  ASSERT_TRUE(s.ok()) << s.status();
  for (const clients::EncodedImage& image : s->images) {
    EXPECT_EQ(JpegSize(image.data), std::make_pair(1600, 900));
    // nuScenes camera JPEGs are ~100-400 kB; neither a flat image nor raw noise.
    EXPECT_GT(image.data.size(), 50u * 1024) << image.camera;
    EXPECT_LT(image.data.size(), 1024u * 1024) << image.camera;
  }
}

TEST(SyntheticSceneTest, BadOptions) {
  SyntheticSceneOptions o = Small();
  o.width = 8;
  EXPECT_THAT(MakeSyntheticScene(o, 0).status().message(), HasSubstr("8x90"));
  o = Small();
  o.jpeg_quality = 0;
  EXPECT_THAT(MakeSyntheticScene(o, 0).status().message(), HasSubstr("JPEG quality"));
  o = Small();
  o.questions = 0;
  EXPECT_THAT(MakeSyntheticScene(o, 0).status().message(), HasSubstr("questions per scene"));
}

TEST(ParseImageSizeTest, WidthByHeight) {
  EXPECT_EQ(*ParseImageSize("1600x900"), std::make_pair(1600, 900));
  EXPECT_FALSE(ParseImageSize("1600").ok());
  EXPECT_FALSE(ParseImageSize("1600x").ok());
  EXPECT_FALSE(ParseImageSize("0x900").ok());
  EXPECT_THAT(ParseImageSize("axb").status().message(), HasSubstr("WIDTHxHEIGHT"));
}

}  // namespace
}  // namespace drivelm::benchmarks
