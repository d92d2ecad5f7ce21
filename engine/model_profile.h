// ModelProfile: the driving-specific choices of one checkpoint that are not in its config.json
// (DESIGN.md §6): camera order, prompt layout, coordinate space, sampling defaults. Read from a
// YAML file beside the checkpoint; without one, DefaultModelProfile() is PaliGemma's standard
// layout (the question alone as the prompt, no rescaling, images in the order given).
//
// YAML keys (all optional; an unknown key is an error naming it, so typos never pass silently):
//   name: drivevlms_paligemma
//   cameras: [CAM_FRONT, ...]      # order of the image tokens; absent: the six nuScenes cameras
//                                  # in DriveLM's image_paths order; []: the order given
//   prompt_template: "...{question}"        # required {question}; optional {context}
//   context_template: "Q: {question}\nA: {answer}\n"  # one depends_on pair; both required
//   image_size: 224                # recorded; must equal the model's (checked by the loader)
//   coordinates: {source_width: 1600, source_height: 900, model_width: 224, model_height: 224,
//                 decimals: 1}     # the four sizes required; decimals defaults to 1
//   sampling: {greedy: false, temperature: 0.5, top_k: 0, top_p: 0.8, seed: 0}
//   max_new_tokens: 256
//   image_prefix: exact            # exact | shared (DESIGN.md §3)
#ifndef DRIVELM_ENGINE_MODEL_PROFILE_H_
#define DRIVELM_ENGINE_MODEL_PROFILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/coordinate_rescaler.h"
#include "engine/sampling_params.h"

namespace drivelm::engine {

// How the image tokens' KV is computed for a scene's questions (DESIGN.md §3).
enum class ImagePrefixMode {
  kExact,   // every question runs its own bidirectional prefill over images + prompt
  kShared,  // image KV computed once per scene with image-only attention (an approximation)
};

const char* ImagePrefixModeName(ImagePrefixMode mode);  // "exact", "shared"

struct ModelProfile {
  std::string name = "default";
  // Camera names in image-token order. Empty: the request's images in the order given.
  std::vector<std::string> cameras;
  // `{question}` required; `{context}` optional (where depends_on context goes; without it the
  // context is put right before the question).
  std::string prompt_template = "{question}";
  // One earlier question of the scene and its answer; `{question}` and `{answer}` required.
  std::string context_template = "Q: {question}\nA: {answer}\n";
  std::optional<int64_t> image_size;           // absent: the model's
  std::optional<CoordinateSpace> coordinates;  // absent: no rescaling
  // Defaults for requests that leave sampling unset. When `sampling:` names temperature, top_k or
  // top_p without `greedy`, greedy is false.
  SamplingParams sampling;
  int max_new_tokens = 256;
  ImagePrefixMode image_prefix = ImagePrefixMode::kExact;
};

// DriveLM's image_paths order: CAM_FRONT, CAM_FRONT_LEFT, CAM_FRONT_RIGHT, CAM_BACK,
// CAM_BACK_LEFT, CAM_BACK_RIGHT.
const std::vector<std::string>& NuScenesCameras();

// PaliGemma's standard layout: the question alone, no rescaling, images in the order given, greedy.
ModelProfile DefaultModelProfile();

// Parses YAML text. `source` (a path) prefixes messages. InvalidArgument for malformed YAML, an
// unknown or duplicate key, a wrong type, or a value out of range, naming the key and line.
absl::StatusOr<ModelProfile> ParseModelProfile(std::string_view yaml, std::string_view source);

// Reads and parses `path`. NotFound when it does not exist; see ParseModelProfile.
absl::StatusOr<ModelProfile> LoadModelProfile(const std::string& path);

// DefaultModelProfile() when `path` does not exist; otherwise LoadModelProfile(path).
absl::StatusOr<ModelProfile> LoadModelProfileOrDefault(const std::string& path);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_PROFILE_H_
