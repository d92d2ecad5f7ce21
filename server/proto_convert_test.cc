#include "server/proto_convert.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::server {
namespace {

using ::testing::HasSubstr;

v1::AnswerRequest ValidRequest() {
  v1::AnswerRequest request;
  request.set_request_id("r-1");
  request.mutable_scene()->set_id("scene-7");
  int i = 0;
  for (v1::Camera camera : {v1::CAM_FRONT, v1::CAM_FRONT_LEFT, v1::CAM_FRONT_RIGHT, v1::CAM_BACK,
                            v1::CAM_BACK_LEFT, v1::CAM_BACK_RIGHT}) {
    v1::CameraImage* image = request.mutable_scene()->add_images();
    image->set_camera(camera);
    image->set_data("bytes" + std::to_string(i++));
  }
  v1::Question* q1 = request.add_questions();
  q1->set_id("q1");
  q1->set_text("What are the important objects?");
  q1->set_stage(v1::STAGE_PERCEPTION);
  v1::Question* q2 = request.add_questions();
  q2->set_id("q2");
  q2->set_text("What should the ego vehicle do?");
  q2->set_stage(v1::STAGE_PLANNING);
  q2->add_depends_on("q1");
  return request;
}

TEST(ProtoConvertTest, CameraNamesRoundTrip) {
  for (int value = v1::Camera_MIN; value <= v1::Camera_MAX; ++value) {
    const v1::Camera camera = static_cast<v1::Camera>(value);
    const char* name = CameraName(camera);
    if (camera == v1::CAMERA_UNSPECIFIED) {
      EXPECT_EQ(name, nullptr);
      continue;
    }
    ASSERT_NE(name, nullptr) << value;
    EXPECT_EQ(name, v1::Camera_Name(camera));  // the enum's own spelling
    EXPECT_EQ(CameraFromName(name), camera);
  }
  EXPECT_EQ(CameraName(static_cast<v1::Camera>(17)), nullptr);
  EXPECT_EQ(CameraFromName("CAM_TOP"), std::nullopt);
  EXPECT_EQ(CameraFromName("CAMERA_UNSPECIFIED"), std::nullopt);
}

TEST(ProtoConvertTest, ConvertsAValidRequest) {
  v1::AnswerRequest request = ValidRequest();
  request.set_max_new_tokens(12);
  request.add_stop("\n\n");
  request.set_priority(3);
  request.mutable_scene()->add_history()->set_timestamp_us(5);  // accepted, ignored
  (*request.mutable_scene()->mutable_metadata()->mutable_attributes())["location"] = "boston";
  absl::StatusOr<engine::SceneRequest> scene = ToSceneRequest(request, engine::SamplingParams{});
  ASSERT_TRUE(scene.ok()) << scene.status();
  EXPECT_EQ(scene->request_id, "r-1");
  EXPECT_EQ(scene->scene_id, "scene-7");
  ASSERT_EQ(scene->images.size(), 6u);
  EXPECT_EQ(scene->images[0].camera, "CAM_FRONT");
  EXPECT_EQ(scene->images[5].camera, "CAM_BACK_RIGHT");
  EXPECT_EQ(scene->images[3].encoded, "bytes3");
  ASSERT_EQ(scene->questions.size(), 2u);
  EXPECT_EQ(scene->questions[0].stage, engine::QuestionStage::kPerception);
  EXPECT_EQ(scene->questions[1].stage, engine::QuestionStage::kPlanning);
  EXPECT_THAT(scene->questions[1].depends_on, ::testing::ElementsAre("q1"));
  EXPECT_EQ(scene->max_new_tokens, 12);
  EXPECT_THAT(scene->stop_strings, ::testing::ElementsAre("\n\n"));
  EXPECT_EQ(scene->priority, 3);
  EXPECT_FALSE(scene->sampling.has_value());  // absent: the profile's, chosen by the engine
  EXPECT_EQ(scene->deadline, absl::InfiniteFuture());
}

TEST(ProtoConvertTest, SamplingMergesOverTheProfileDefaults) {
  engine::SamplingParams defaults;
  defaults.greedy = true;
  defaults.temperature = 0.5;
  defaults.top_p = 0.8;
  defaults.top_k = 0;
  defaults.seed = 9;

  v1::SamplingParams only_seed;
  only_seed.set_seed(4);
  engine::SamplingParams merged = MergeSampling(only_seed, defaults);
  EXPECT_TRUE(merged.greedy);
  EXPECT_EQ(merged.seed, 4u);
  EXPECT_DOUBLE_EQ(merged.temperature, 0.5);

  v1::SamplingParams temperature;
  temperature.set_temperature(0.7);
  merged = MergeSampling(temperature, defaults);
  EXPECT_FALSE(merged.greedy);  // asking for a temperature means sampling
  EXPECT_DOUBLE_EQ(merged.temperature, 0.7);
  EXPECT_DOUBLE_EQ(merged.top_p, 0.8);
  EXPECT_EQ(merged.seed, 9u);

  v1::SamplingParams explicit_greedy;
  explicit_greedy.set_greedy(true);
  explicit_greedy.set_top_k(5);
  merged = MergeSampling(explicit_greedy, defaults);
  EXPECT_TRUE(merged.greedy);
  EXPECT_EQ(merged.top_k, 5);

  // proto3 `optional`: an explicit zero is present and not the default.
  v1::SamplingParams zero_top_k;
  zero_top_k.set_top_k(0);
  defaults.top_k = 7;
  merged = MergeSampling(zero_top_k, defaults);
  EXPECT_EQ(merged.top_k, 0);
  EXPECT_FALSE(merged.greedy);

  v1::AnswerRequest request = ValidRequest();
  request.mutable_sampling()->set_top_p(0.9);
  absl::StatusOr<engine::SceneRequest> scene = ToSceneRequest(request, defaults);
  ASSERT_TRUE(scene.ok()) << scene.status();
  ASSERT_TRUE(scene->sampling.has_value());
  EXPECT_DOUBLE_EQ(scene->sampling->top_p, 0.9);
  EXPECT_DOUBLE_EQ(scene->sampling->temperature, 0.5);

  v1::SamplingParams round = ToProto(defaults);
  EXPECT_TRUE(round.has_greedy() && round.has_temperature() && round.has_top_p() &&
              round.has_top_k() && round.has_seed());
  EXPECT_EQ(round.top_k(), 7);
}

void ExpectInvalid(const v1::AnswerRequest& request, const std::string& field) {
  absl::StatusOr<engine::SceneRequest> scene = ToSceneRequest(request, engine::SamplingParams{});
  ASSERT_FALSE(scene.ok()) << "expected an error naming " << field;
  EXPECT_EQ(scene.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(scene.status().message()), HasSubstr(field));
}

TEST(ProtoConvertTest, RefusesWhatOnlyTheProtoKnows) {
  v1::AnswerRequest unspecified = ValidRequest();
  unspecified.mutable_scene()->mutable_images(2)->set_camera(v1::CAMERA_UNSPECIFIED);
  ExpectInvalid(unspecified, "scene.images[2].camera: CAMERA_UNSPECIFIED");

  v1::AnswerRequest unknown = ValidRequest();
  unknown.mutable_scene()->mutable_images(4)->set_camera(static_cast<v1::Camera>(42));
  ExpectInvalid(unknown, "scene.images[4].camera: unknown camera value 42");

  v1::AnswerRequest duplicate = ValidRequest();
  duplicate.mutable_scene()->mutable_images(5)->set_camera(v1::CAM_FRONT);
  ExpectInvalid(duplicate, "scene.images[5].camera: duplicate camera CAM_FRONT (also scene.images[0])");

  v1::AnswerRequest empty_data = ValidRequest();
  empty_data.mutable_scene()->mutable_images(1)->clear_data();
  ExpectInvalid(empty_data, "scene.images[1].data (CAM_FRONT_LEFT): empty");

  v1::AnswerRequest stage = ValidRequest();
  stage.mutable_questions(1)->set_stage(static_cast<v1::Stage>(9));
  ExpectInvalid(stage, "questions[1].stage: unknown stage value 9");

  v1::AnswerRequest zero_tokens = ValidRequest();
  zero_tokens.set_max_new_tokens(0);
  ExpectInvalid(zero_tokens, "max_new_tokens");

  v1::AnswerRequest empty_stop = ValidRequest();
  empty_stop.add_stop("x");
  empty_stop.add_stop("");
  ExpectInvalid(empty_stop, "stop[1]");

  v1::AnswerRequest long_id = ValidRequest();
  long_id.set_request_id(std::string(kMaxRequestIdBytes + 1, 'a'));
  ExpectInvalid(long_id, "request_id");

  v1::AnswerRequest bad_id = ValidRequest();
  bad_id.set_request_id("two\nlines");
  ExpectInvalid(bad_id, "request_id");
}

TEST(ProtoConvertTest, LeavesModelChecksToTheEngine) {
  // Missing cameras, no questions, unknown depends_on: the engine knows the profile and graph.
  v1::AnswerRequest request = ValidRequest();
  request.mutable_scene()->mutable_images()->RemoveLast();
  request.clear_questions();
  EXPECT_TRUE(ToSceneRequest(request, engine::SamplingParams{}).ok());
}

TEST(ProtoConvertTest, EventsToProto) {
  engine::AnswerEvent delta;
  delta.kind = engine::AnswerEvent::Kind::kDelta;
  delta.question_id = "q1";
  delta.text = "Car ";
  v1::AnswerEvent out;
  ToProto(delta, &out);
  EXPECT_EQ(out.question_id(), "q1");
  ASSERT_EQ(out.event_case(), v1::AnswerEvent::kDelta);
  EXPECT_EQ(out.delta().text(), "Car ");

  engine::AnswerEvent done;
  done.kind = engine::AnswerEvent::Kind::kDone;
  done.question_id = "q2";
  done.finish_reason = engine::FinishReason::kLength;
  done.usage.prompt_tokens = 120;
  done.usage.generated_tokens = 7;
  done.usage.queue_s = 0.001;
  done.usage.image_decode_s = 0.002;
  done.usage.vision_s = 0.003;
  done.usage.prefill_s = 0.004;
  done.usage.decode_s = 0.005;
  done.usage.ttft_s = 0.010;
  done.usage.flops.vision = 1e9;
  done.usage.flops.prefill = 2e9;
  done.usage.flops.decode = 3e8;
  ToProto(done, &out);  // reuses the message: the delta must be gone
  EXPECT_EQ(out.question_id(), "q2");
  ASSERT_EQ(out.event_case(), v1::AnswerEvent::kDone);
  const v1::QuestionDone& d = out.done();
  EXPECT_EQ(d.finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(d.usage().prompt_tokens(), 120);
  EXPECT_EQ(d.usage().generated_tokens(), 7);
  EXPECT_DOUBLE_EQ(d.usage().timings().queue_ms(), 1.0);
  EXPECT_DOUBLE_EQ(d.usage().timings().image_decode_ms(), 2.0);
  EXPECT_DOUBLE_EQ(d.usage().timings().vision_ms(), 3.0);
  EXPECT_DOUBLE_EQ(d.usage().timings().prefill_ms(), 4.0);
  EXPECT_DOUBLE_EQ(d.usage().timings().decode_ms(), 5.0);
  EXPECT_DOUBLE_EQ(d.usage().timings().ttft_ms(), 10.0);
  EXPECT_DOUBLE_EQ(d.usage().flops().vision(), 1e9);
  EXPECT_DOUBLE_EQ(d.usage().flops().prefill(), 2e9);
  EXPECT_DOUBLE_EQ(d.usage().flops().decode(), 3e8);
  EXPECT_EQ(d.status().code(), 0);
  EXPECT_TRUE(d.status().message().empty());

  done.finish_reason = engine::FinishReason::kAbort;
  done.status = absl::FailedPreconditionError("questions[q2]: parent q1 did not finish");
  ToProto(done, &out);
  EXPECT_EQ(out.done().finish_reason(), v1::FINISH_REASON_ABORT);
  EXPECT_EQ(out.done().status().code(), 9);  // google.rpc.Code FAILED_PRECONDITION
  EXPECT_EQ(out.done().status().message(), "questions[q2]: parent q1 did not finish");
}

TEST(ProtoConvertTest, FinishReasonsAndStages) {
  EXPECT_EQ(ToProto(engine::FinishReason::kStop), v1::FINISH_REASON_STOP);
  EXPECT_EQ(ToProto(engine::FinishReason::kLength), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(ToProto(engine::FinishReason::kAbort), v1::FINISH_REASON_ABORT);
  EXPECT_EQ(ToEngineStage(v1::STAGE_UNSPECIFIED), engine::QuestionStage::kUnspecified);
  EXPECT_EQ(ToEngineStage(v1::STAGE_BEHAVIOR), engine::QuestionStage::kBehavior);
  EXPECT_EQ(ToEngineStage(static_cast<v1::Stage>(-1)), std::nullopt);
}

}  // namespace
}  // namespace drivelm::server
