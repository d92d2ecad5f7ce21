// PromptBuilder: turns a client's question (and the earlier questions it depends on) into the
// prompt text of one checkpoint, by its profile: templates applied, object references rescaled
// from camera pixels into the model's coordinate space. The result is the text between "<bos>"
// and the "\n" that PaliGemma's processor appends; the tokenizer adds both.
#ifndef DRIVELM_ENGINE_PROMPT_BUILDER_H_
#define DRIVELM_ENGINE_PROMPT_BUILDER_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/coordinate_rescaler.h"
#include "engine/model_profile.h"
#include "engine/text_template.h"

namespace drivelm::engine {

// An earlier question of the scene and its answer (a depends_on edge), both as the client sees
// them: references in camera pixels. Rendering scales them into model space like the question.
struct QaPair {
  std::string question;
  std::string answer;
};

// Built once per profile; immutable and safe to share between threads.
class PromptBuilder {
 public:
  // InvalidArgument for a bad template or coordinate space (LoadModelProfile already rejects both;
  // this guards profiles built in code).
  static absl::StatusOr<PromptBuilder> Create(const ModelProfile& profile);

  // Context pairs rendered with context_template, in the order given, go to the prompt
  // template's {context}; a template without {context} gets them right before the question.
  std::string Render(std::string_view question, absl::Span<const QaPair> context = {}) const;

  // The rescaler for answers (model space -> camera pixels); nullopt when the profile has no
  // coordinates. Streamed answers go through CoordinateStream built from it.
  const std::optional<CoordinateRescaler>& rescaler() const { return rescaler_; }

 private:
  PromptBuilder(TextTemplate prompt, TextTemplate context,
                std::optional<CoordinateRescaler> rescaler)
      : prompt_(std::move(prompt)), context_(std::move(context)), rescaler_(std::move(rescaler)) {}

  // Camera pixels -> model space, or the text unchanged without coordinates.
  std::string ToModel(std::string_view text) const;

  TextTemplate prompt_;
  TextTemplate context_;
  std::optional<CoordinateRescaler> rescaler_;
};

// PromptBuilder::Create(profile) then Render, for one-off use.
absl::StatusOr<std::string> RenderPrompt(const ModelProfile& profile, std::string_view question,
                                         absl::Span<const QaPair> context = {});

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_PROMPT_BUILDER_H_
