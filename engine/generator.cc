#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/coordinate_stream.h"
#include "engine/sampler.h"
#include "engine/stop_condition.h"
#include "engine/tokenizer/detokenizer.h"

namespace drivelm::engine {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Generator>> Generator::Load(const std::string& model_dir,
                                                           Backend* backend,
                                                           const GeneratorOptions& options) {
  std::unique_ptr<Generator> g(new Generator());
  g->options_ = options;
  absl::StatusOr<std::unique_ptr<PaliGemmaModel>> model = PaliGemmaModel::Load(model_dir, backend);
  if (!model.ok()) return model.status();
  g->model_ = std::move(*model);
  const ModelConfig& config = g->model_->config();

  TokenizerOptions tok_options;
  tok_options.bos_id = config.bos_token_id;
  tok_options.eos_id = config.eos_token_id;
  tok_options.pad_id = config.pad_token_id;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(model_dir + "/tokenizer.model", tok_options);
  if (!tokenizer.ok()) return tokenizer.status();
  g->tokenizer_ = std::move(*tokenizer);
  if (absl::Status s = g->tokenizer_->Validate(config.text.vocab_size, config.image_token_index);
      !s.ok()) {
    return s;
  }

  absl::StatusOr<ImageProcessor> processor =
      ImageProcessor::Create(OptionsFromConfig(config.image_processor, options.max_pixels));
  if (!processor.ok()) return processor.status();
  g->image_processor_.emplace(std::move(*processor));

  const std::string profile_path =
      options.profile_path.empty() ? model_dir + "/drivelm_profile.yaml" : options.profile_path;
  absl::StatusOr<ModelProfile> profile = options.profile_path.empty()
                                             ? LoadModelProfileOrDefault(profile_path)
                                             : LoadModelProfile(profile_path);
  if (!profile.ok()) return profile.status();
  if (profile->image_size && *profile->image_size != config.vision.image_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        profile_path, ": image_size ", *profile->image_size, " but the model's vision tower takes ",
        config.vision.image_size));
  }
  g->profile_ = *profile;
  absl::StatusOr<PromptBuilder> builder = PromptBuilder::Create(g->profile_);
  if (!builder.ok()) return builder.status();
  g->prompt_builder_.emplace(std::move(*builder));
  return g;
}

absl::StatusOr<std::vector<const CameraImage*>> Generator::OrderImages(
    const std::vector<CameraImage>& images) const {
  if (images.empty()) return absl::InvalidArgumentError("images: at least one image is required");
  std::vector<const CameraImage*> ordered;
  if (profile_.cameras.empty()) {
    for (const CameraImage& image : images) ordered.push_back(&image);
    return ordered;
  }
  std::set<std::string> seen;
  for (const CameraImage& image : images) {
    if (!seen.insert(image.camera).second) {
      return absl::InvalidArgumentError(absl::StrCat("images: camera ", image.camera,
                                                     " is given more than once"));
    }
  }
  for (const std::string& camera : profile_.cameras) {
    const CameraImage* found = nullptr;
    for (const CameraImage& image : images) {
      if (image.camera == camera) found = &image;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "images: camera ", camera, " is missing; the model's profile expects ",
          absl::StrJoin(profile_.cameras, ", ")));
    }
    ordered.push_back(found);
  }
  if (ordered.size() != images.size()) {
    for (const CameraImage& image : images) {
      bool known = false;
      for (const std::string& camera : profile_.cameras) known = known || camera == image.camera;
      if (!known) {
        return absl::InvalidArgumentError(absl::StrCat(
            "images: unknown camera ", image.camera, "; the model's profile expects ",
            absl::StrJoin(profile_.cameras, ", ")));
      }
    }
  }
  return ordered;
}

absl::StatusOr<std::vector<int32_t>> Generator::PromptIds(const GenerateRequest& request,
                                                          int num_images) const {
  const std::string prompt = request.raw_prompt
                                 ? request.question
                                 : prompt_builder_->Render(request.question, request.context);
  return tokenizer_->BuildPaliGemmaPrompt(
      prompt, num_images, static_cast<int>(model_->config().image_tokens_per_image()));
}

absl::StatusOr<GenerateResult> Generator::Generate(
    const GenerateRequest& request, const std::function<void(const std::string&)>& on_text) {
  using Clock = std::chrono::steady_clock;
  GenerateResult result;
  const ModelConfig& config = model_->config();
  Backend* backend = model_->backend();

  // ---- Validate everything before any compute (decide, then run) ----
  if (request.question.empty()) return absl::InvalidArgumentError("question: must not be empty");
  const int max_new_tokens = request.max_new_tokens.value_or(profile_.max_new_tokens);
  if (max_new_tokens < 1 || max_new_tokens > options_.max_new_tokens_limit) {
    return absl::InvalidArgumentError(absl::StrCat("max_new_tokens: ", max_new_tokens,
                                                   " is outside [1, ",
                                                   options_.max_new_tokens_limit, "]"));
  }
  const SamplingParams sampling = request.sampling.value_or(profile_.sampling);
  absl::StatusOr<Sampler> sampler = Sampler::Create(sampling);
  if (!sampler.ok()) return sampler.status();
  StopParams stop_params;
  stop_params.eos_ids = config.eos_token_ids.empty() ? std::vector<int32_t>{config.eos_token_id}
                                                     : config.eos_token_ids;
  stop_params.stop_strings = request.stop_strings;
  stop_params.max_new_tokens = max_new_tokens;
  absl::StatusOr<StopCondition> stop = StopCondition::Create(stop_params);
  if (!stop.ok()) return stop.status();
  absl::StatusOr<std::vector<const CameraImage*>> images = OrderImages(request.images);
  if (!images.ok()) return images.status();
  const int64_t n_images = static_cast<int64_t>(images->size());
  absl::StatusOr<std::vector<int32_t>> ids = PromptIds(request, static_cast<int>(n_images));
  if (!ids.ok()) return ids.status();
  const int64_t prompt_len = static_cast<int64_t>(ids->size());
  if (prompt_len + max_new_tokens > options_.max_prompt_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt: ", prompt_len, " tokens (", n_images, " images) + max_new_tokens ",
        max_new_tokens, " exceeds the limit of ", options_.max_prompt_tokens, " tokens"));
  }
  result.prompt_tokens = prompt_len;

  // ---- Images ----
  auto t0 = Clock::now();
  const int64_t hw = config.image_processor.height * config.image_processor.width;
  std::vector<float> pixels(static_cast<size_t>(n_images * 3 * hw));  // [n, 3, H, W]
  for (int64_t i = 0; i < n_images; ++i) {
    absl::StatusOr<ProcessedImage> processed = image_processor_->Process((*images)[i]->encoded);
    if (!processed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("images[", (*images)[i]->camera,
                                                     "]: ", processed.status().message()));
    }
    std::copy(processed->pixel_values.begin(), processed->pixel_values.end(),
              pixels.begin() + i * 3 * hw);
  }
  result.times.image_decode_s = SecondsSince(t0);

  t0 = Clock::now();
  Tensor pixel_tensor = backend->Upload(
      DType::kF32, {n_images, 3, config.image_processor.height, config.image_processor.width},
      pixels.data());
  Tensor features = model_->EncodeImages(pixel_tensor);
  result.times.vision_s = SecondsSince(t0);
  result.flops.vision = model_->VisionFlops(n_images);

  // ---- Prefill ----
  t0 = Clock::now();
  std::unique_ptr<SequenceKvCache> cache = model_->NewCache(prompt_len + max_new_tokens);
  absl::StatusOr<Tensor> logits = model_->Prefill(*ids, features, cache.get());
  if (!logits.ok()) return logits.status();
  std::vector<float> host_logits(static_cast<size_t>(config.text.vocab_size));
  backend->DownloadF32(*logits, host_logits.data());
  result.times.prefill_s = SecondsSince(t0);
  result.flops.prefill = model_->PrefillFlops(prompt_len);

  // ---- Decode ----
  t0 = Clock::now();
  IncrementalDetokenizer detokenizer(*tokenizer_);
  std::optional<CoordinateStream> coordinates;
  if (prompt_builder_->rescaler() && !request.raw_prompt) {
    coordinates.emplace(*prompt_builder_->rescaler());
  }
  auto emit = [&](const std::string& text) {
    std::string out = coordinates ? coordinates->Append(text) : text;
    if (out.empty()) return;
    result.text += out;
    if (on_text) on_text(out);
  };
  while (true) {
    absl::StatusOr<int32_t> next = sampler->Sample(host_logits);
    if (!next.ok()) return next.status();
    result.token_ids.push_back(*next);
    absl::StatusOr<StopStep> step = stop->Append(*next, detokenizer.Add(*next));
    if (!step.ok()) return step.status();
    emit(step->text);
    if (step->finish) {
      result.finish_reason = *step->finish;
      break;
    }
    absl::StatusOr<Tensor> step_logits = model_->Decode(*next, cache.get());
    if (!step_logits.ok()) return step_logits.status();
    backend->DownloadF32(*step_logits, host_logits.data());
    result.flops.decode += model_->DecodeFlops(cache->length() - 1);
  }
  // Bytes of an unfinished character at the very end become U+FFFD, as a full decode does;
  // after a stop string nothing more of the answer is emitted.
  const int32_t last = result.token_ids.back();
  const bool ended_by_eos = std::find(stop_params.eos_ids.begin(), stop_params.eos_ids.end(),
                                      last) != stop_params.eos_ids.end();
  if (result.finish_reason == FinishReason::kLength || ended_by_eos) emit(detokenizer.Finish());
  if (coordinates) {
    std::string tail = coordinates->Finish();
    if (!tail.empty()) {
      result.text += tail;
      if (on_text) on_text(tail);
    }
  }
  result.times.decode_s = SecondsSince(t0);
  return result;
}

}  // namespace drivelm::engine
