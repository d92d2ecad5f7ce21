#include "clients/answer_request.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::clients {
namespace {

namespace v1 = drivelm::v1;
using ::testing::HasSubstr;

std::string GoldenImages() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "drivelm_serve") +
         "/tests/golden/images";
}

ClientScene Scene() {
  ClientScene s;
  s.scene_id = "s_f";
  s.images = {{"CAM_FRONT", GoldenImages() + "/cam0.jpg"},
              {"CAM_BACK_RIGHT", GoldenImages() + "/cam5.png"}};
  ClientQuestion q0;
  q0.id = "s_f_0";
  q0.text = "What are the important objects?";
  q0.stage = "perception";
  ClientQuestion q1;
  q1.id = "s_f_1";
  q1.text = "What next?";
  q1.stage = "planning";
  q1.depends_on = {"s_f_0"};
  s.questions = {q0, q1};
  s.stop = {"\n\n"};
  return s;
}

TEST(AnswerRequestTest, SceneQuestionsAndOptions) {
  RequestOptions options;
  options.request_id = "r1";
  options.greedy = true;
  options.seed = 9;
  options.max_new_tokens = 12;
  options.priority = 2;
  absl::StatusOr<v1::AnswerRequest> r = BuildAnswerRequest(Scene(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request_id(), "r1");
  EXPECT_EQ(r->scene().id(), "s_f");
  ASSERT_EQ(r->scene().images_size(), 2);
  EXPECT_EQ(r->scene().images(0).camera(), v1::CAM_FRONT);
  EXPECT_EQ(r->scene().images(1).camera(), v1::CAM_BACK_RIGHT);
  EXPECT_EQ(r->scene().images(0).data().substr(0, 2), "\xff\xd8");  // JPEG SOI
  EXPECT_EQ(r->scene().images(1).data().substr(1, 3), "PNG");
  ASSERT_EQ(r->questions_size(), 2);
  EXPECT_EQ(r->questions(1).id(), "s_f_1");
  EXPECT_EQ(r->questions(1).stage(), v1::STAGE_PLANNING);
  ASSERT_EQ(r->questions(1).depends_on_size(), 1);
  EXPECT_EQ(r->questions(1).depends_on(0), "s_f_0");
  ASSERT_EQ(r->stop_size(), 1);
  EXPECT_TRUE(r->sampling().has_greedy());
  EXPECT_TRUE(r->sampling().greedy());
  EXPECT_EQ(r->sampling().seed(), 9u);
  EXPECT_FALSE(r->sampling().has_temperature());  // absent: the profile's default
  EXPECT_FALSE(r->sampling().has_top_p());
  EXPECT_EQ(r->max_new_tokens(), 12);
  EXPECT_EQ(r->priority(), 2);

  absl::StatusOr<v1::AnswerRequest> defaults = BuildAnswerRequest(Scene(), RequestOptions{});
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->sampling().has_greedy());
  EXPECT_FALSE(defaults->has_max_new_tokens());
}

TEST(AnswerRequestTest, InMemoryImages) {
  ClientScene s = Scene();
  absl::StatusOr<v1::AnswerRequest> r =
      BuildAnswerRequest(s, {{"CAM_BACK", "bytes"}}, RequestOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->scene().images_size(), 1);
  EXPECT_EQ(r->scene().images(0).data(), "bytes");
}

TEST(AnswerRequestTest, Errors) {
  ClientScene s = Scene();
  s.images[0].path = "/no/such/front.jpg";
  EXPECT_THAT(BuildAnswerRequest(s, RequestOptions{}).status().message(),
              HasSubstr("cannot read image /no/such/front.jpg (CAM_FRONT)"));
  EXPECT_THAT(BuildAnswerRequest(Scene(), {{"CAM_TOP", "x"}}, RequestOptions{}).status().message(),
              HasSubstr("unknown camera 'CAM_TOP'"));
  EXPECT_FALSE(CameraFromName("CAMERA_UNSPECIFIED").ok());
  EXPECT_EQ(StageFromName("behavior"), v1::STAGE_BEHAVIOR);
  EXPECT_EQ(StageFromName(""), v1::STAGE_UNSPECIFIED);
}

}  // namespace
}  // namespace drivelm::clients
