// Proto <-> engine conversion: the only place where drivelm.v1 messages meet engine types
// (engine/ never sees a proto). Validates what only the proto knows (enum values, proto3
// presence, wire-level sizes) with messages naming the proto field ("scene.images[2].camera");
// everything that depends on the model or limits (missing cameras, image bytes, question graph,
// max_new_tokens bound) is the engine's Submit() to check, with the same field paths since
// repeated fields keep their order.
//
// All functions are pure and thread-safe.
#ifndef DRIVELM_SERVER_PROTO_CONVERT_H_
#define DRIVELM_SERVER_PROTO_CONVERT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "engine/finish_reason.h"
#include "engine/generator.h"
#include "engine/sampling_params.h"
#include "proto/drivelm/v1/drivelm.pb.h"

namespace drivelm::server {

// Longest accepted AnswerRequest.request_id (it goes into logs and metadata).
inline constexpr size_t kMaxRequestIdBytes = 128;

// AnswerRequest.request_id goes back as gRPC metadata and into log lines: at most
// kMaxRequestIdBytes of printable ASCII (empty is fine: the server generates one).
absl::Status ValidateRequestId(const std::string& request_id);

// The engine's (and model profile's) camera name: "CAM_FRONT", ...; nullptr for
// CAMERA_UNSPECIFIED and values outside the enum.
const char* CameraName(v1::Camera camera);
// Inverse of CameraName; nullopt for a name that is no v1::Camera.
std::optional<v1::Camera> CameraFromName(std::string_view name);

// nullopt for values outside the enum.
std::optional<engine::QuestionStage> ToEngineStage(v1::Stage stage);

// A request's SamplingParams over the profile's `defaults`: each set field overrides; when
// `greedy` is unset but temperature, top_p or top_k is set, greedy is false (as in profile YAML).
engine::SamplingParams MergeSampling(const v1::SamplingParams& params,
                                     const engine::SamplingParams& defaults);
v1::SamplingParams ToProto(const engine::SamplingParams& params);  // every field set

// proto -> engine. `default_sampling` is the model profile's (the base of a partly set
// AnswerRequest.sampling; an absent one stays absent). InvalidArgument naming the proto field
// for: a CAMERA_UNSPECIFIED, unknown or duplicate camera, empty image data, an unknown stage,
// max_new_tokens < 1, an empty stop string, a request_id over kMaxRequestIdBytes or not
// printable ASCII. Scene.history and Scene.metadata are accepted and ignored (reserved for
// fusion). request_id is copied (the caller replaces an empty one); deadline is left infinite
// for the caller to set.
absl::StatusOr<engine::SceneRequest> ToSceneRequest(const v1::AnswerRequest& request,
                                                    const engine::SamplingParams& default_sampling);

v1::FinishReason ToProto(engine::FinishReason reason);

// engine -> proto: kDelta -> TextDelta, kDone -> QuestionDone (seconds -> milliseconds; the
// status as google.rpc code + message).
void ToProto(const engine::AnswerEvent& event, v1::AnswerEvent* out);

// What GetModelInfo reports: the model and profile from `generator`, the limits from the
// server's configuration.
struct ModelInfoSource {
  std::string model_name;         // empty: the profile's name
  engine::EngineOptions engine;   // limits, queue capacity, max_pixels (engine.generator)
  int64_t max_message_bytes = 0;  // gRPC max receive size; 0: not reported
};
v1::ModelInfo ToModelInfo(const engine::Generator& generator, const ModelInfoSource& source);

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_PROTO_CONVERT_H_
