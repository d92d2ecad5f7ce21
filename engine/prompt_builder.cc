#include "engine/prompt_builder.h"

#include <utility>

namespace drivelm::engine {

absl::StatusOr<PromptBuilder> PromptBuilder::Create(const ModelProfile& profile) {
  absl::StatusOr<TextTemplate> prompt = TextTemplate::Parse(
      profile.prompt_template, "prompt_template", {"question", "context"}, {"question"});
  if (!prompt.ok()) return prompt.status();
  absl::StatusOr<TextTemplate> context = TextTemplate::Parse(
      profile.context_template, "context_template", {"question", "answer"}, {"question", "answer"});
  if (!context.ok()) return context.status();
  std::optional<CoordinateRescaler> rescaler;
  if (profile.coordinates.has_value()) {
    absl::StatusOr<CoordinateRescaler> r = CoordinateRescaler::Create(*profile.coordinates);
    if (!r.ok()) return r.status();
    rescaler = *std::move(r);
  }
  return PromptBuilder(*std::move(prompt), *std::move(context), std::move(rescaler));
}

std::string PromptBuilder::ToModel(std::string_view text) const {
  return rescaler_.has_value() ? rescaler_->ToModel(text) : std::string(text);
}

std::string PromptBuilder::Render(std::string_view question,
                                  absl::Span<const QaPair> context) const {
  std::string context_text;
  for (const QaPair& pair : context) {
    const std::string q = ToModel(pair.question);
    const std::string a = ToModel(pair.answer);
    context_text += context_.Render({{"question", q}, {"answer", a}});
  }
  const std::string q = ToModel(question);
  if (prompt_.Has("context")) {
    return prompt_.Render({{"question", q}, {"context", context_text}});
  }
  return prompt_.Render({{"question", context_text + q}});
}

absl::StatusOr<std::string> RenderPrompt(const ModelProfile& profile, std::string_view question,
                                         absl::Span<const QaPair> context) {
  absl::StatusOr<PromptBuilder> builder = PromptBuilder::Create(profile);
  if (!builder.ok()) return builder.status();
  return builder->Render(question, context);
}

}  // namespace drivelm::engine
