#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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

absl::Status Generator::ValidateRequest(const GenerateRequest& request,
                                        int64_t num_images) const {
  if (request.question.empty()) return absl::InvalidArgumentError("question: must not be empty");
  const int max_new_tokens = request.max_new_tokens.value_or(profile_.max_new_tokens);
  if (max_new_tokens < 1 || max_new_tokens > options_.max_new_tokens_limit) {
    return absl::InvalidArgumentError(absl::StrCat("max_new_tokens: ", max_new_tokens,
                                                   " is outside [1, ",
                                                   options_.max_new_tokens_limit, "]"));
  }
  if (absl::Status s = ValidateSamplingParams(request.sampling.value_or(profile_.sampling));
      !s.ok()) {
    return s;
  }
  for (const std::string& stop : request.stop_strings) {
    if (stop.empty()) return absl::InvalidArgumentError("stop_strings: empty string");
  }
  absl::StatusOr<std::vector<int32_t>> ids = PromptIds(request, static_cast<int>(num_images));
  if (!ids.ok()) return ids.status();
  const int64_t prompt_len = static_cast<int64_t>(ids->size());
  if (prompt_len + max_new_tokens > options_.max_prompt_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt: ", prompt_len, " tokens (", num_images, " images) + max_new_tokens ",
        max_new_tokens, " exceeds the limit of ", options_.max_prompt_tokens, " tokens"));
  }
  return absl::OkStatus();
}

absl::StatusOr<EncodedImages> Generator::EncodeImages(const std::vector<CameraImage>& images,
                                                     VisionCache* cache) {
  using Clock = std::chrono::steady_clock;
  const ModelConfig& config = model_->config();
  absl::StatusOr<std::vector<const CameraImage*>> ordered = OrderImages(images);
  if (!ordered.ok()) return ordered.status();
  EncodedImages out;
  out.num_images = static_cast<int64_t>(ordered->size());
  const int64_t height = config.image_processor.height;
  const int64_t width = config.image_processor.width;
  const int64_t tokens = config.image_tokens_per_image();
  const int64_t hidden = config.projection_dim;
  Backend* backend = model_->backend();

  // Decode everything (the content hash is of the decoded pixels); keep the pixels of the
  // images the cache does not have.
  auto t0 = Clock::now();
  std::vector<std::optional<Tensor>> cached(out.num_images);
  std::vector<int64_t> misses;  // image indices to encode
  std::vector<float> pixels;    // [misses, 3, H, W]
  for (int64_t i = 0; i < out.num_images; ++i) {
    absl::StatusOr<ProcessedImage> processed = image_processor_->Process((*ordered)[i]->encoded);
    if (!processed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("images[", (*ordered)[i]->camera,
                                                     "]: ", processed.status().message()));
    }
    out.content_hashes.push_back(processed->content_hash);
    if (cache != nullptr) {
      cached[i] = cache->Lookup(VisionCacheKey{processed->content_hash,
                                               static_cast<int32_t>(height),
                                               static_cast<int32_t>(width)});
    }
    if (!cached[i]) {
      misses.push_back(i);
      pixels.insert(pixels.end(), processed->pixel_values.begin(), processed->pixel_values.end());
    }
  }
  out.image_decode_s = SecondsSince(t0);

  // Encode the misses as one batch.
  t0 = Clock::now();
  Tensor encoded;  // [misses * tokens, hidden]
  if (!misses.empty()) {
    const int64_t m = static_cast<int64_t>(misses.size());
    Tensor pixel_tensor = backend->Upload(DType::kF32, {m, 3, height, width}, pixels.data());
    encoded = model_->EncodeImages(pixel_tensor);
    out.vision_flops = model_->VisionFlops(m);
  }
  out.vision_cache_hits = out.num_images - static_cast<int64_t>(misses.size());
  out.vision_flops_saved = out.vision_cache_hits > 0 ? model_->VisionFlops(out.vision_cache_hits) : 0;
  if (misses.size() == static_cast<size_t>(out.num_images)) {
    out.features = encoded;  // nothing cached: the batch is the scene, already in order
  } else {
    out.features = backend->Empty(DType::kF32, {out.num_images * tokens, hidden});
  }
  size_t next_miss = 0;
  for (int64_t i = 0; i < out.num_images; ++i) {
    Tensor rows;  // [tokens, hidden]
    if (cached[i]) {
      rows = *cached[i];
    } else {
      const int64_t j = static_cast<int64_t>(next_miss++);
      rows = encoded.Rows(j * tokens, (j + 1) * tokens);
      if (cache != nullptr) {
        // Stored by value; an image too large for the cache is simply not kept.
        cache->Insert(VisionCacheKey{out.content_hashes[i], static_cast<int32_t>(height),
                                     static_cast<int32_t>(width)},
                      rows)
            .IgnoreError();
      }
    }
    if (out.features.data() != encoded.data() || encoded.empty()) {
      backend->CopyRows(rows, &out.features, i * tokens);
    }
  }
  out.vision_s = SecondsSince(t0);
  return out;
}

StopParams Generator::StopParamsFor(const GenerateRequest& request) const {
  const ModelConfig& config = model_->config();
  StopParams stop;
  stop.eos_ids = config.eos_token_ids.empty() ? std::vector<int32_t>{config.eos_token_id}
                                              : config.eos_token_ids;
  stop.stop_strings = request.stop_strings;
  stop.max_new_tokens = request.max_new_tokens.value_or(profile_.max_new_tokens);
  return stop;
}

absl::StatusOr<AnswerDecoder> Generator::NewAnswerDecoder(const GenerateRequest& request) const {
  std::optional<CoordinateRescaler> rescaler;
  if (!request.raw_prompt) rescaler = prompt_builder_->rescaler();
  return AnswerDecoder::Create(tokenizer_.get(), rescaler,
                               request.sampling.value_or(profile_.sampling),
                               StopParamsFor(request));
}

absl::StatusOr<GenerateResult> Generator::Generate(
    const GenerateRequest& request, const std::function<void(const std::string&)>& on_text) {
  // Cheap checks first, so bad requests cost no image work.
  absl::StatusOr<std::vector<const CameraImage*>> ordered = OrderImages(request.images);
  if (!ordered.ok()) return ordered.status();
  if (absl::Status s = ValidateRequest(request, static_cast<int64_t>(ordered->size())); !s.ok()) {
    return s;
  }
  absl::StatusOr<EncodedImages> images = EncodeImages(request.images);
  if (!images.ok()) return images.status();
  absl::StatusOr<GenerateResult> result = Answer(*images, request, on_text);
  if (!result.ok()) return result.status();
  result->times.image_decode_s = images->image_decode_s;
  result->times.vision_s = images->vision_s;
  result->flops.vision = images->vision_flops;
  return result;
}

absl::StatusOr<GenerateResult> Generator::Answer(
    const EncodedImages& images, const GenerateRequest& request,
    const std::function<void(const std::string&)>& on_text,
    const std::function<bool()>& should_stop) {
  using Clock = std::chrono::steady_clock;
  GenerateResult result;
  const ModelConfig& config = model_->config();
  Backend* backend = model_->backend();

  // ---- Validate everything before any compute (decide, then run) ----
  if (absl::Status s = ValidateRequest(request, images.num_images); !s.ok()) return s;
  absl::StatusOr<AnswerDecoder> decoder = NewAnswerDecoder(request);
  if (!decoder.ok()) return decoder.status();
  const int max_new_tokens = request.max_new_tokens.value_or(profile_.max_new_tokens);
  absl::StatusOr<std::vector<int32_t>> ids =
      PromptIds(request, static_cast<int>(images.num_images));
  if (!ids.ok()) return ids.status();
  const int64_t prompt_len = static_cast<int64_t>(ids->size());
  result.prompt_tokens = prompt_len;
  auto stopped = [&] { return should_stop && should_stop(); };
  if (stopped()) {
    result.finish_reason = FinishReason::kAbort;
    return result;
  }

  // ---- Prefill ----
  auto t0 = Clock::now();
  std::unique_ptr<SequenceKvCache> cache = model_->NewCache(prompt_len + max_new_tokens);
  absl::StatusOr<Tensor> logits = model_->Prefill(*ids, images.features, cache.get());
  if (!logits.ok()) return logits.status();
  std::vector<float> host_logits(static_cast<size_t>(config.text.vocab_size));
  backend->DownloadF32(*logits, host_logits.data());
  result.times.prefill_s = SecondsSince(t0);
  result.flops.prefill = model_->PrefillFlops(prompt_len);

  // ---- Decode ----
  t0 = Clock::now();
  while (true) {
    absl::StatusOr<DecodeStep> step = decoder->Next(host_logits);
    if (!step.ok()) return step.status();
    if (!step->text.empty()) {
      result.text += step->text;
      if (on_text) on_text(step->text);
    }
    if (step->finish) {
      result.finish_reason = *step->finish;
      break;
    }
    if (stopped()) {
      decoder->Abort();
      result.finish_reason = FinishReason::kAbort;
      break;
    }
    absl::StatusOr<Tensor> step_logits = model_->Decode(step->token, cache.get());
    if (!step_logits.ok()) return step_logits.status();
    backend->DownloadF32(*step_logits, host_logits.data());
    result.flops.decode += model_->DecodeFlops(cache->length() - 1);
  }
  result.token_ids = decoder->token_ids();
  result.times.decode_s = SecondsSince(t0);
  return result;
}

}  // namespace drivelm::engine
