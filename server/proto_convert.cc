#include "server/proto_convert.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/model/model_config.h"

namespace drivelm::server {
namespace {

// Named at the proto field: "scene.images[2].camera".
std::string Field(absl::string_view repeated, int index, absl::string_view member = {}) {
  std::string path = absl::StrCat(repeated, "[", index, "]");
  if (!member.empty()) absl::StrAppend(&path, ".", member);
  return path;
}

}  // namespace

absl::Status ValidateRequestId(const std::string& request_id) {
  if (request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("request_id: ", request_id.size(),
                                                   " bytes, at most ", kMaxRequestIdBytes));
  }
  for (char c : request_id) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "request_id: only printable ASCII characters (0x20-0x7e) are allowed");
    }
  }
  return absl::OkStatus();
}

const char* CameraName(v1::Camera camera) {
  switch (camera) {
    case v1::CAMERA_UNSPECIFIED:
      return nullptr;
    case v1::CAM_FRONT:
      return "CAM_FRONT";
    case v1::CAM_FRONT_LEFT:
      return "CAM_FRONT_LEFT";
    case v1::CAM_FRONT_RIGHT:
      return "CAM_FRONT_RIGHT";
    case v1::CAM_BACK:
      return "CAM_BACK";
    case v1::CAM_BACK_LEFT:
      return "CAM_BACK_LEFT";
    case v1::CAM_BACK_RIGHT:
      return "CAM_BACK_RIGHT";
    // protoc's sentinels, never values on the wire.
    case v1::Camera_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::Camera_INT_MAX_SENTINEL_DO_NOT_USE_:
      return nullptr;
  }
  return nullptr;  // an unknown value from a newer client
}

std::optional<v1::Camera> CameraFromName(std::string_view name) {
  for (int value = v1::Camera_MIN; value <= v1::Camera_MAX; ++value) {
    const char* known = CameraName(static_cast<v1::Camera>(value));
    if (known != nullptr && name == known) return static_cast<v1::Camera>(value);
  }
  return std::nullopt;
}

std::optional<engine::QuestionStage> ToEngineStage(v1::Stage stage) {
  switch (stage) {
    case v1::STAGE_UNSPECIFIED:
      return engine::QuestionStage::kUnspecified;
    case v1::STAGE_PERCEPTION:
      return engine::QuestionStage::kPerception;
    case v1::STAGE_PREDICTION:
      return engine::QuestionStage::kPrediction;
    case v1::STAGE_PLANNING:
      return engine::QuestionStage::kPlanning;
    case v1::STAGE_BEHAVIOR:
      return engine::QuestionStage::kBehavior;
    case v1::Stage_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::Stage_INT_MAX_SENTINEL_DO_NOT_USE_:
      return std::nullopt;
  }
  return std::nullopt;
}

engine::SamplingParams MergeSampling(const v1::SamplingParams& params,
                                     const engine::SamplingParams& defaults) {
  engine::SamplingParams merged = defaults;
  if (params.has_temperature()) merged.temperature = params.temperature();
  if (params.has_top_p()) merged.top_p = params.top_p();
  if (params.has_top_k()) merged.top_k = params.top_k();
  if (params.has_seed()) merged.seed = params.seed();
  if (params.has_greedy()) {
    merged.greedy = params.greedy();
  } else if (params.has_temperature() || params.has_top_p() || params.has_top_k()) {
    // Asking for a temperature or a nucleus means asking to sample.
    merged.greedy = false;
  }
  return merged;
}

v1::SamplingParams ToProto(const engine::SamplingParams& params) {
  v1::SamplingParams out;
  out.set_greedy(params.greedy);
  out.set_temperature(params.temperature);
  out.set_top_p(params.top_p);
  out.set_top_k(params.top_k);
  out.set_seed(params.seed);
  return out;
}

absl::StatusOr<engine::SceneRequest> ToSceneRequest(
    const v1::AnswerRequest& request, const engine::SamplingParams& default_sampling) {
  engine::SceneRequest out;
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  out.request_id = request.request_id();
  out.scene_id = request.scene().id();

  // Cameras: the enum is the proto's, so its checks are here. Which cameras the model needs is
  // the engine's (the profile's) to say.
  const auto& images = request.scene().images();
  std::vector<int> first_index(v1::Camera_ARRAYSIZE, -1);
  out.images.reserve(images.size());
  for (int i = 0; i < images.size(); ++i) {
    const v1::CameraImage& image = images[i];
    const int value = static_cast<int>(image.camera());
    const char* name = CameraName(image.camera());
    if (name == nullptr) {
      if (value == v1::CAMERA_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            absl::StrCat(Field("scene.images", i, "camera"),
                         ": CAMERA_UNSPECIFIED; every image must name its camera (CAM_FRONT, "
                         "CAM_FRONT_LEFT, CAM_FRONT_RIGHT, CAM_BACK, CAM_BACK_LEFT, "
                         "CAM_BACK_RIGHT)"));
      }
      return absl::InvalidArgumentError(absl::StrCat(Field("scene.images", i, "camera"),
                                                     ": unknown camera value ", value));
    }
    if (first_index[value] >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Field("scene.images", i, "camera"), ": duplicate camera ", name, " (also ",
          Field("scene.images", first_index[value]), ")"));
    }
    first_index[value] = i;
    if (image.data().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Field("scene.images", i, "data"), " (", name, "): empty image"));
    }
    out.images.push_back(engine::CameraImage{name, image.data()});
  }

  out.questions.reserve(request.questions_size());
  for (int i = 0; i < request.questions_size(); ++i) {
    const v1::Question& question = request.questions(i);
    std::optional<engine::QuestionStage> stage = ToEngineStage(question.stage());
    if (!stage.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(Field("questions", i, "stage"),
                                                     ": unknown stage value ",
                                                     static_cast<int>(question.stage())));
    }
    engine::QuestionSpec spec;
    spec.id = question.id();
    spec.text = question.text();
    spec.stage = *stage;
    spec.depends_on.assign(question.depends_on().begin(), question.depends_on().end());
    out.questions.push_back(std::move(spec));
  }

  if (request.has_sampling()) out.sampling = MergeSampling(request.sampling(), default_sampling);
  if (request.has_max_new_tokens()) {
    if (request.max_new_tokens() < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_new_tokens: must be >= 1 when set, got ", request.max_new_tokens()));
    }
    out.max_new_tokens = request.max_new_tokens();
  }
  for (int i = 0; i < request.stop_size(); ++i) {
    if (request.stop(i).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Field("stop", i), ": empty stop string (it would match everywhere)"));
    }
    out.stop_strings.push_back(request.stop(i));
  }
  out.priority = request.priority();
  // Scene.history, Scene.metadata and Scene.timestamp_us: reserved for multi-frame fusion.
  return out;
}

v1::FinishReason ToProto(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case engine::FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case engine::FinishReason::kAbort:
      return v1::FINISH_REASON_ABORT;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void ToProto(const engine::AnswerEvent& event, v1::AnswerEvent* out) {
  out->Clear();
  out->set_question_id(event.question_id);
  switch (event.kind) {
    case engine::AnswerEvent::Kind::kDelta:
      out->mutable_delta()->set_text(event.text);
      return;
    case engine::AnswerEvent::Kind::kDone: {
      v1::QuestionDone* done = out->mutable_done();
      done->set_finish_reason(ToProto(event.finish_reason));
      const engine::QuestionUsage& usage = event.usage;
      v1::Usage* u = done->mutable_usage();
      u->set_prompt_tokens(usage.prompt_tokens);
      u->set_generated_tokens(usage.generated_tokens);
      v1::Timings* t = u->mutable_timings();
      t->set_queue_ms(usage.queue_s * 1e3);
      t->set_image_decode_ms(usage.image_decode_s * 1e3);
      t->set_vision_ms(usage.vision_s * 1e3);
      t->set_prefill_ms(usage.prefill_s * 1e3);
      t->set_decode_ms(usage.decode_s * 1e3);
      t->set_ttft_ms(usage.ttft_s * 1e3);
      v1::Flops* f = u->mutable_flops();
      f->set_vision(usage.flops.vision);
      f->set_prefill(usage.flops.prefill);
      f->set_decode(usage.flops.decode);
      // absl::StatusCode values are google.rpc.Code values.
      done->mutable_status()->set_code(static_cast<int32_t>(event.status.code()));
      done->mutable_status()->set_message(std::string(event.status.message()));
      return;
    }
  }
}

v1::ModelInfo ToModelInfo(const engine::Generator& generator, const ModelInfoSource& source) {
  v1::ModelInfo info;
  const engine::ModelConfig& config = generator.model().config();
  const engine::ModelProfile& profile = generator.profile();
  info.set_model_name(source.model_name.empty() ? profile.name : source.model_name);
  info.set_architecture("PaliGemmaForConditionalGeneration");
  info.set_decoder_type(config.text.traits().model_type);
  info.set_vision_image_size(static_cast<int32_t>(config.vision.image_size));
  info.set_tokens_per_image(static_cast<int32_t>(config.image_tokens_per_image()));
  for (const std::string& camera : profile.cameras) {
    // A profile camera outside the enum could never be sent; report the known ones.
    if (std::optional<v1::Camera> value = CameraFromName(camera)) info.add_camera_order(*value);
  }
  info.set_vocab_size(config.text.vocab_size);
  info.set_backend(generator.model().backend()->name());
  info.set_prompt_template_name(profile.name);
  *info.mutable_default_sampling() = ToProto(profile.sampling);
  info.set_default_max_new_tokens(profile.max_new_tokens);
  v1::Limits* limits = info.mutable_limits();
  limits->set_max_message_bytes(source.max_message_bytes);
  limits->set_max_pixels_per_image(source.engine.generator.max_pixels);
  limits->set_max_images_per_request(source.engine.max_images_per_request);
  limits->set_max_questions_per_request(source.engine.max_questions_per_request);
  // Both the engine and the generator bound it; the smaller one applies.
  limits->set_max_new_tokens(
      std::min(source.engine.max_new_tokens_limit, source.engine.generator.max_new_tokens_limit));
  limits->set_max_question_bytes(source.engine.max_question_bytes);
  limits->set_queue_capacity(source.engine.max_queued_requests);
  return info;
}

}  // namespace drivelm::server
