// Generator: answers one question about a set of camera images, end to end on one backend:
// decode + resize the images, encode them, build the prompt (profile template, coordinate
// rescaling), prefill, sample token by token, detokenize, stop, and rescale coordinates in the
// answer back to camera pixels. The reference path for a single request; the scheduler (batching,
// paged KV, shared image encodings) builds on the same pieces.
//
// Thread-safety: Generate() may not run concurrently on one Generator (the backend's buffers
// and the model are shared); use one Generator per thread or the scheduler.
#ifndef DRIVELM_ENGINE_GENERATOR_H_
#define DRIVELM_ENGINE_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/answer_decoder.h"
#include "engine/backend/backend.h"
#include "engine/cache/vision_cache.h"
#include "engine/finish_reason.h"
#include "engine/model/paligemma_model.h"
#include "engine/model_profile.h"
#include "engine/prompt_builder.h"
#include "engine/sampling_params.h"
#include "engine/stop_condition.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/vision/image_processor.h"

namespace drivelm::engine {

struct CameraImage {
  std::string camera;   // e.g. "CAM_FRONT"; matched against the profile's camera list
  std::string encoded;  // JPEG or PNG bytes
};

struct GenerateRequest {
  std::vector<CameraImage> images;
  std::string question;
  std::vector<QaPair> context;                // earlier questions and answers (depends_on)
  std::optional<SamplingParams> sampling;     // absent: the profile's
  std::optional<int> max_new_tokens;          // absent: the profile's
  std::vector<std::string> stop_strings;
  // The question is the whole prompt, as given: no template, no rescaling (for parity checks
  // against a Hugging Face processor fed the same text).
  bool raw_prompt = false;
};

struct PhaseTimes {
  double image_decode_s = 0;  // decode + resize + normalize, all images
  double vision_s = 0;        // vision tower + projector
  double prefill_s = 0;
  double decode_s = 0;
};

struct PhaseFlops {
  double vision = 0;
  double prefill = 0;
  double decode = 0;
};

// A scene's images, decoded and encoded once, shared by all of its questions.
struct EncodedImages {
  int64_t num_images = 0;
  Tensor features;                     // [num_images * tokens_per_image, text hidden]
  std::vector<uint64_t> content_hashes;  // per image, in image-token order
  double image_decode_s = 0;
  double vision_s = 0;
  double vision_flops = 0;        // of the images actually encoded
  int64_t vision_cache_hits = 0;  // images whose features came from the vision cache
  double vision_flops_saved = 0;  // the encoder FLOPs those hits saved
};

struct GenerateResult {
  std::string text;                 // the answer, coordinates in camera pixels
  std::vector<int32_t> token_ids;   // generated ids, eos included when it ended the answer
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  PhaseTimes times;
  PhaseFlops flops;
};

struct GeneratorOptions {
  // Profile file; empty: `model_dir`/drivelm_profile.yaml when present, else the default.
  std::string profile_path;
  int64_t max_pixels = kDefaultMaxPixels;  // per decoded image
  int64_t max_prompt_tokens = 8192;        // prompt (images included) + max_new_tokens bound
  int max_new_tokens_limit = 4096;         // a request asking for more is refused
};

class Generator {
 public:
  // Loads config, weights, tokenizer.model and profile from `model_dir` onto `backend` (not
  // owned; outlives the generator). Any mismatch between them is InvalidArgument.
  static absl::StatusOr<std::unique_ptr<Generator>> Load(const std::string& model_dir,
                                                         Backend* backend,
                                                         const GeneratorOptions& options = {});

  // Generates the answer: EncodeImages, then Answer. `on_text`, when set, receives each
  // UTF-8-complete text delta as it is produced (concatenated: GenerateResult::text). Bad input
  // (images that do not decode, cameras that do not match the profile, an over-long prompt, bad
  // sampling parameters) is InvalidArgument naming what is wrong.
  absl::StatusOr<GenerateResult> Generate(
      const GenerateRequest& request,
      const std::function<void(const std::string& delta)>& on_text = nullptr);

  // Decodes, orders (profile camera order) and encodes the images of a scene. With a cache,
  // images whose content was encoded before (same decoded pixels, same model image size) are
  // not encoded again, and the newly encoded ones are added to it.
  absl::StatusOr<EncodedImages> EncodeImages(const std::vector<CameraImage>& images,
                                             VisionCache* cache = nullptr);

  // Answers request.question (request.images are ignored: `images` are used) about encoded
  // images. `should_stop` is polled before every forward pass; when it returns true the answer
  // ends with FinishReason::kAbort. Checks (limits, sampling, prompt length) run before any
  // compute. The result's times and flops cover this question only (image work is in `images`).
  absl::StatusOr<GenerateResult> Answer(
      const EncodedImages& images, const GenerateRequest& request,
      const std::function<void(const std::string& delta)>& on_text = nullptr,
      const std::function<bool()>& should_stop = nullptr);

  // The per-answer sampling/stop/detokenize state for `request` (profile defaults applied).
  absl::StatusOr<AnswerDecoder> NewAnswerDecoder(const GenerateRequest& request) const;
  StopParams StopParamsFor(const GenerateRequest& request) const;

  // Checks what Answer() would check, without compute: sampling, limits, prompt length.
  absl::Status ValidateRequest(const GenerateRequest& request, int64_t num_images) const;

  const PaliGemmaModel& model() const { return *model_; }
  // The model for the engine thread's batched steps (not for concurrent use with Generate).
  PaliGemmaModel& model_for_engine() { return *model_; }
  const GeneratorOptions& options() const { return options_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ModelProfile& profile() const { return profile_; }

  // The images of `request` in image-token order (the profile's camera order, or as given).
  absl::StatusOr<std::vector<const CameraImage*>> OrderImages(
      const std::vector<CameraImage>& images) const;
  // The prompt ids for `request` (images + bos + prompt + "\n").
  absl::StatusOr<std::vector<int32_t>> PromptIds(const GenerateRequest& request,
                                                 int num_images) const;

 private:
  Generator() = default;

  GeneratorOptions options_;
  std::unique_ptr<PaliGemmaModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<ImageProcessor> image_processor_;
  ModelProfile profile_;
  std::optional<PromptBuilder> prompt_builder_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_GENERATOR_H_
