#include "clients/client_scene.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::clients {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// argv as TakeSceneFlags sees it; `args` excludes the program name.
class Argv {
 public:
  explicit Argv(std::vector<std::string> args) : storage_(std::move(args)) {
    storage_.insert(storage_.begin(), "drivelm_client");
    for (std::string& s : storage_) pointers_.push_back(s.data());
    argc_ = static_cast<int>(pointers_.size());
  }
  int* argc() { return &argc_; }
  char** argv() { return pointers_.data(); }
  std::vector<std::string> rest() const {
    return std::vector<std::string>(pointers_.begin() + 1, pointers_.begin() + argc_);
  }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
  int argc_ = 0;
};

TEST(TakeSceneFlagsTest, CollectsRepeatedFlagsInOrder) {
  Argv a({"--server", "localhost:1", "--image", "CAM_FRONT=a.jpg", "--question", "What is it?",
          "--image=CAM_BACK=b.png,CAM_BACK_LEFT=c.png", "--json", "--question=Where: here?",
          "--depends_on", "q0", "--stage", "planning", "--question", "Third", "--depends_on=0,1",
          "--stop", "\n", "--", "--question", "x"});
  absl::StatusOr<ClientScene> scene = TakeSceneFlags(a.argc(), a.argv());
  ASSERT_TRUE(scene.ok()) << scene.status();
  ASSERT_EQ(scene->images.size(), 3u);
  EXPECT_EQ(scene->images[0].camera, "CAM_FRONT");
  EXPECT_EQ(scene->images[0].path, "a.jpg");
  EXPECT_EQ(scene->images[2].camera, "CAM_BACK_LEFT");
  EXPECT_EQ(scene->images[2].path, "c.png");
  ASSERT_EQ(scene->questions.size(), 3u);
  EXPECT_EQ(scene->questions[0].id, "q0");
  EXPECT_EQ(scene->questions[0].text, "What is it?");
  EXPECT_TRUE(scene->questions[0].depends_on.empty());
  EXPECT_EQ(scene->questions[1].id, "q1");
  EXPECT_EQ(scene->questions[1].text, "Where: here?");
  EXPECT_THAT(scene->questions[1].depends_on, ElementsAre("q0"));
  EXPECT_EQ(scene->questions[1].stage, "planning");
  EXPECT_THAT(scene->questions[2].depends_on, ElementsAre("q0", "q1"));
  EXPECT_THAT(scene->stop, ElementsAre("\n"));
  // Everything else stays for absl, in order; after `--` nothing is taken.
  EXPECT_THAT(a.rest(), ElementsAre("--server", "localhost:1", "--json", "--", "--question", "x"));
}

TEST(TakeSceneFlagsTest, RejectsBadFlags) {
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  const Case cases[] = {
      {{"--image", "front.jpg"}, "--image must be CAMERA=PATH"},
      {{"--image", "CAM_FRONT="}, "--image must be CAMERA=PATH"},
      {{"--image"}, "--image needs a value"},
      {{"--question", ""}, "--question must not be empty"},
      {{"--question"}, "--question needs a value"},
      {{"--depends_on", "q0"}, "--depends_on applies to the --question before it"},
      {{"--question", "a", "--depends_on", "q0"}, "the first question cannot depend on any"},
      {{"--question", "a", "--question", "b", "--depends_on", "q1"}, "'q1' is not an earlier"},
      {{"--question", "a", "--question", "b", "--depends_on", "x"}, "'x' is not an earlier"},
      {{"--question", "a", "--stage", "driving"}, "--stage must be one of"},
      {{"--stage", "planning"}, "--stage applies to the --question before it"},
  };
  for (const Case& c : cases) {
    Argv a(c.args);
    absl::StatusOr<ClientScene> scene = TakeSceneFlags(a.argc(), a.argv());
    ASSERT_FALSE(scene.ok()) << c.expected;
    EXPECT_EQ(scene.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(scene.status().message(), HasSubstr(c.expected));
  }
}

constexpr char kDriveLm[] = R"({
  "scene1": {"key_frames": {
    "frameA": {
      "QA": {
        "planning": [{"Q": "P0", "A": "x"}],
        "perception": [{"Q": "What are the important objects?", "A": "y", "tag": [2]},
                       {"Q": "Is it moving?", "A": "No."}],
        "behavior": [{"Q": "B0"}],
        "prediction": []
      },
      "image_paths": {"CAM_FRONT": "../samples/front.jpg", "CAM_BACK": "/abs/back.jpg"}
    },
    "frameB": {"QA": {"perception": [{"Q": "q"}]}, "image_paths": {}}
  }}
})";

TEST(DriveLmFrameTest, QuestionsInChallengeOrderWithChallengeIds) {
  absl::StatusOr<ClientScene> scene = ParseDriveLmFrame(kDriveLm, "f.json", "frameA", "/data");
  ASSERT_TRUE(scene.ok()) << scene.status();
  EXPECT_EQ(scene->scene_id, "scene1_frameA");
  ASSERT_EQ(scene->questions.size(), 4u);
  EXPECT_EQ(scene->questions[0].id, "scene1_frameA_0");
  EXPECT_EQ(scene->questions[0].text, "What are the important objects?");
  EXPECT_EQ(scene->questions[0].stage, "perception");
  EXPECT_EQ(scene->questions[1].id, "scene1_frameA_1");
  EXPECT_EQ(scene->questions[2].text, "P0");
  EXPECT_EQ(scene->questions[2].stage, "planning");
  EXPECT_EQ(scene->questions[3].id, "scene1_frameA_3");
  EXPECT_EQ(scene->questions[3].stage, "behavior");
  for (const ClientQuestion& q : scene->questions) EXPECT_TRUE(q.depends_on.empty());
  ASSERT_EQ(scene->images.size(), 2u);
  for (const ClientImage& image : scene->images) {
    if (image.camera == "CAM_FRONT") {
      EXPECT_EQ(image.path, "/data/../samples/front.jpg");
    } else {
      EXPECT_EQ(image.camera, "CAM_BACK");
      EXPECT_EQ(image.path, "/abs/back.jpg");
    }
  }
}

TEST(DriveLmFrameTest, Errors) {
  EXPECT_EQ(ParseDriveLmFrame(kDriveLm, "f.json", "nope", "/d").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(ParseDriveLmFrame(kDriveLm, "f.json", "nope", "/d").status().message(),
              HasSubstr("f.json: no key frame nope; frames include frameA"));
  EXPECT_THAT(ParseDriveLmFrame("{", "f.json", "a", "/d").status().message(),
              HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseDriveLmFrame("[]", "f.json", "a", "/d").status().message(),
              HasSubstr("expected an object"));
  EXPECT_THAT(ParseDriveLmFrame(R"({"s": {"key_frames": {"a": {"QA": {"perception": [{"A": "x"}]},
      "image_paths": {}}}}})",
                                "f.json", "a", "/d")
                  .status()
                  .message(),
              HasSubstr("frame a: QA.perception[0]: expected an object with \"Q\""));
  EXPECT_THAT(ParseDriveLmFrame(R"({"s": {"key_frames": {"a": {"QA": {"driving": []},
      "image_paths": {}}}}})",
                                "f.json", "a", "/d")
                  .status()
                  .message(),
              HasSubstr("QA.driving: unknown stage"));
  EXPECT_THAT(ParseDriveLmFrame(R"({"s": {"key_frames": {"a": {"QA": {}}}}})", "f.json", "a", "/d")
                  .status()
                  .message(),
              HasSubstr("image_paths"));
  EXPECT_EQ(LoadDriveLmFrame("/no/such/file.json", "a", "/d").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DriveLmFileTest, EveryFrameInFileOrderWithAnswersAndTags) {
  // Scenes and frames deliberately out of alphabetical order: the file's order is kept.
  constexpr char kFile[] = R"({
    "zscene": {"key_frames": {
      "f2": {"QA": {"perception": [{"Q": "q0", "A": "a0", "tag": [0]}],
                    "planning": [{"Q": "q1", "A": "a1", "tag": 3}]},
             "image_paths": {"CAM_FRONT": "x.jpg"}},
      "f1": {"QA": {"behavior": [{"Q": "q2"}]}, "image_paths": {}}}},
    "ascene": {"scene_description": "ignored", "key_frames": {
      "f3": {"QA": {"perception": [{"Q": "q3", "A": null, "tag": [1, 2]}]},
             "image_paths": {}, "key_object_infos": {}}}}
  })";
  absl::StatusOr<std::vector<ClientScene>> frames = ParseDriveLmFile(kFile, "f.json", "/r");
  ASSERT_TRUE(frames.ok()) << frames.status();
  ASSERT_EQ(frames->size(), 3u);
  EXPECT_EQ((*frames)[0].scene_id, "zscene_f2");
  EXPECT_EQ((*frames)[1].scene_id, "zscene_f1");
  EXPECT_EQ((*frames)[2].scene_id, "ascene_f3");
  const ClientScene& f2 = (*frames)[0];
  ASSERT_EQ(f2.questions.size(), 2u);
  EXPECT_EQ(f2.questions[0].id, "zscene_f2_0");
  EXPECT_TRUE(f2.questions[0].has_answer);
  EXPECT_EQ(f2.questions[0].answer, "a0");
  EXPECT_EQ(f2.questions[0].tags, std::vector<int>{0});
  EXPECT_EQ(f2.questions[1].id, "zscene_f2_1");
  EXPECT_EQ(f2.questions[1].tags, std::vector<int>{3});  // a bare int is accepted
  ASSERT_EQ(f2.images.size(), 1u);
  EXPECT_EQ(f2.images[0].path, "/r/x.jpg");
  EXPECT_FALSE((*frames)[1].questions[0].has_answer);  // test layout: no "A"
  EXPECT_TRUE((*frames)[1].questions[0].tags.empty());
  EXPECT_FALSE((*frames)[2].questions[0].has_answer);  // "A": null
  EXPECT_EQ((*frames)[2].questions[0].tags, (std::vector<int>{1, 2}));
}

TEST(DriveLmFileTest, Errors) {
  EXPECT_THAT(ParseDriveLmFile("{}", "f.json", "/r").status().message(),
              HasSubstr("f.json: no key frames"));
  EXPECT_THAT(ParseDriveLmFile(R"({"s": []})", "f.json", "/r").status().message(),
              HasSubstr("scene s: expected an object with \"key_frames\""));
  // A malformed frame anywhere is an error (unlike ParseDriveLmFrame, which reads one).
  EXPECT_THAT(ParseDriveLmFile(R"({"s": {"key_frames": {"a": {"QA": {"perception": [{"Q": "x"}]},
      "image_paths": {}}, "b": {"QA": {}}}}})",
                               "f.json", "/r")
                  .status()
                  .message(),
              HasSubstr("frame b: expected \"image_paths\""));
  EXPECT_THAT(ParseDriveLmFile(R"({"s": {"key_frames": {"a": {"QA": {"perception":
      [{"Q": "x", "tag": ["2"]}]}, "image_paths": {}}}}})",
                               "f.json", "/r")
                  .status()
                  .message(),
              HasSubstr("frame a: QA.perception[0].tag: expected a list of integers"));
  EXPECT_THAT(ParseDriveLmFile(R"({"s": {"key_frames": {"a": {"QA": {"perception":
      [{"Q": "x", "A": 3}]}, "image_paths": {}}}}})",
                               "f.json", "/r")
                  .status()
                  .message(),
              HasSubstr("frame a: QA.perception[0].A: expected a string"));
  EXPECT_EQ(LoadDriveLmFile("/no/such/file.json", "/r").status().code(),
            absl::StatusCode::kNotFound);
}

// The real DriveLM sample frames, when the shared data folder is there.
TEST(DriveLmFrameTest, RealSampleFrame) {
  const char* shared = std::getenv("DRIVELM_SHARED_DIR");
  const std::string root =
      std::string(shared ? shared : "/work/shared") + "/data/drivelm-nuscenes-mini/data";
  if (!std::filesystem::exists(root + "/test_eval.json")) {
    GTEST_SKIP() << "DriveLM samples not found under " << root
                 << " (set DRIVELM_SHARED_DIR to the shared folder)";
  }
  absl::StatusOr<ClientScene> scene = LoadDriveLmFrame(
      root + "/test_eval.json", "4a0798f849ca477ab18009c3a20b7df2", root);
  ASSERT_TRUE(scene.ok()) << scene.status();
  EXPECT_EQ(scene->scene_id,
            "f0f120e4d4b0441da90ec53b16ee169d_4a0798f849ca477ab18009c3a20b7df2");
  EXPECT_EQ(scene->questions.size(), 8u);
  EXPECT_THAT(scene->questions[0].text, HasSubstr("important objects"));
  ASSERT_EQ(scene->images.size(), 6u);
  for (const ClientImage& image : scene->images) {
    EXPECT_TRUE(std::filesystem::exists(image.path)) << image.path;
  }
}

// The whole real evaluation file: seven frames, their answers and tags.
TEST(DriveLmFileTest, RealSampleFile) {
  const char* shared = std::getenv("DRIVELM_SHARED_DIR");
  const std::string root =
      std::string(shared ? shared : "/work/shared") + "/data/drivelm-nuscenes-mini/data";
  if (!std::filesystem::exists(root + "/test_eval.json")) {
    GTEST_SKIP() << "DriveLM samples not found under " << root
                 << " (set DRIVELM_SHARED_DIR to the shared folder)";
  }
  absl::StatusOr<std::vector<ClientScene>> frames = LoadDriveLmFile(root + "/test_eval.json", root);
  ASSERT_TRUE(frames.ok()) << frames.status();
  ASSERT_EQ(frames->size(), 7u);
  for (const ClientScene& frame : *frames) {
    EXPECT_EQ(frame.images.size(), 6u);
    for (const ClientQuestion& q : frame.questions) {
      EXPECT_TRUE(q.has_answer) << q.id;
      EXPECT_EQ(q.tags.size(), 1u) << q.id;
    }
  }
  absl::StatusOr<std::vector<ClientScene>> train =
      LoadDriveLmFile(root + "/train_sample.json", root);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->size(), 7u);
}

}  // namespace
}  // namespace drivelm::clients
