// Parsing follows transformers 4.47 exactly, defaults included:
// - PaliGemmaConfig: absent (or null) vision_config / text_config get PaliGemma's own defaults
//   (SigLIP so400m with intermediate_size 4096, Gemma-2B with vocab_size = top-level vocab_size);
//   a vision_config / text_config dict gets the defaults of SiglipVisionConfig / GemmaConfig /
//   Gemma2Config for the fields it lacks.
// - image_token_index defaults to 256000; projection_dim to 2048 and overrides the vision one.
// - GemmaConfig: hidden_act is ignored; hidden_activation null or absent means gelu_pytorch_tanh.
// - Gemma2Config: attn/final_logit_softcapping null means off.
// - Word embeddings are tied per text_config.tie_word_embeddings (the language model's own config
//   decides in tie_weights()); bos/eos/pad come from the top level, else text_config (as
//   GenerationConfig.from_model_config does), else Gemma's 2/1/0.
// Fields the engine does not implement (attention_bias, other activations) are rejected here so a
// checkpoint fails at load, not with wrong numbers.
#include "engine/model/model_config.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

using nlohmann::json;

constexpr DecoderTraits kDecoderTraits[] = {
    {DecoderKind::kGemma, "gemma", /*pre_post_feedforward_norms=*/false, /*post_attention_norm_on_output=*/false,
     /*has_softcapping=*/false, /*alternating_sliding_window=*/false, /*query_pre_attn_scalar=*/false},
    {DecoderKind::kGemma2, "gemma2", /*pre_post_feedforward_norms=*/true, /*post_attention_norm_on_output=*/true,
     /*has_softcapping=*/true, /*alternating_sliding_window=*/true, /*query_pre_attn_scalar=*/true},
};

constexpr char kSupportedActivation[] = "gelu_pytorch_tanh";

std::string TypeName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return absl::StrCat("the integer ", v.dump());
  if (v.is_number_float()) return absl::StrCat("the number ", v.dump());
  if (v.is_string()) return absl::StrCat("the string ", v.dump());
  if (v.is_array()) return "an array";
  return "an object";
}

// Typed access to one JSON object's fields. A field that is absent leaves the output as it is
// (the caller has put the default there); every error names the file and the field path.
class Fields {
 public:
  Fields(const json& obj, std::string file, std::string prefix)
      : obj_(obj), file_(std::move(file)), prefix_(std::move(prefix)) {}

  absl::Status Error(const std::string& key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", prefix_, key, ": ", what));
  }
  const json* Get(const std::string& key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  bool Has(const std::string& key) const { return Get(key) != nullptr; }
  bool IsNull(const std::string& key) const {
    const json* v = Get(key);
    return v != nullptr && v->is_null();
  }

  absl::Status Int(const std::string& key, int64_t* out, int64_t min = std::numeric_limits<int64_t>::min(),
                   int64_t max = std::numeric_limits<int64_t>::max()) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number_integer()) return Error(key, absl::StrCat("expected an integer, got ", TypeName(*v)));
    const bool too_big = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(max);
    const int64_t x = too_big ? max : v->get<int64_t>();
    if (too_big || x < min || x > max) {
      return Error(key, absl::StrCat("expected an integer in [", min, ", ", max, "], got ", v->dump()));
    }
    *out = x;
    return absl::OkStatus();
  }
  absl::Status PositiveInt(const std::string& key, int64_t* out) const {
    const json* v = Get(key);
    if (v != nullptr && v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() <= 0) {
      return Error(key, absl::StrCat("expected a positive integer, got ", v->dump()));
    }
    if (v != nullptr && v->is_number_unsigned() && v->get<uint64_t>() == 0) {
      return Error(key, "expected a positive integer, got 0");
    }
    return Int(key, out, 1);
  }
  absl::Status Number(const std::string& key, double* out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number()) return Error(key, absl::StrCat("expected a number, got ", TypeName(*v)));
    double x = v->get<double>();
    if (!std::isfinite(x)) return Error(key, absl::StrCat("expected a finite number, got ", v->dump()));
    *out = x;
    return absl::OkStatus();
  }
  absl::Status NonNegativeNumber(const std::string& key, double* out) const {
    double x = *out;
    if (absl::Status s = Number(key, &x); !s.ok()) return s;
    if (x < 0) return Error(key, absl::StrCat("expected a non-negative number, got ", x));
    *out = x;
    return absl::OkStatus();
  }
  absl::Status PositiveNumber(const std::string& key, double* out) const {
    double x = *out;
    if (absl::Status s = Number(key, &x); !s.ok()) return s;
    if (!(x > 0)) return Error(key, absl::StrCat("expected a positive number, got ", x));
    *out = x;
    return absl::OkStatus();
  }
  absl::Status Bool(const std::string& key, bool* out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return Error(key, absl::StrCat("expected true or false, got ", TypeName(*v)));
    *out = v->get<bool>();
    return absl::OkStatus();
  }
  absl::Status String(const std::string& key, std::string* out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return Error(key, absl::StrCat("expected a string, got ", TypeName(*v)));
    *out = v->get<std::string>();
    return absl::OkStatus();
  }
  // An optional sub-object; nullptr when absent or null.
  absl::StatusOr<const json*> Object(const std::string& key) const {
    const json* v = Get(key);
    if (v == nullptr || v->is_null()) return nullptr;
    if (!v->is_object()) return Error(key, absl::StrCat("expected an object, got ", TypeName(*v)));
    return v;
  }
  Fields Sub(const json& obj, const std::string& key) const { return Fields(obj, file_, prefix_ + key + "."); }

 private:
  const json& obj_;
  std::string file_;
  std::string prefix_;
};

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    if (absl::Status _s = (expr); !_s.ok()) {  \
      return _s;                               \
    }                                          \
  } while (0)

absl::Status CheckActivation(const Fields& f, const std::string& key, const std::string& value) {
  if (value != kSupportedActivation) {
    return f.Error(key, absl::StrCat("unsupported activation \"", value, "\" (the engine implements \"",
                                     kSupportedActivation, "\")"));
  }
  return absl::OkStatus();
}

// PaliGemmaConfig's vision default (vision_config absent): note intermediate_size 4096.
VisionConfig PaliGemmaDefaultVision() {
  VisionConfig v;
  v.hidden_size = 1152;
  v.intermediate_size = 4096;
  v.num_hidden_layers = 27;
  v.num_attention_heads = 16;
  v.num_channels = 3;
  v.patch_size = 14;
  v.image_size = 224;
  v.layer_norm_eps = 1e-6;
  v.hidden_act = "gelu_pytorch_tanh";
  return v;
}

// SiglipVisionConfig() defaults, for fields a vision_config dict lacks.
VisionConfig SiglipDefaultVision() {
  VisionConfig v;
  v.hidden_size = 768;
  v.intermediate_size = 3072;
  v.num_hidden_layers = 12;
  v.num_attention_heads = 12;
  v.num_channels = 3;
  v.patch_size = 16;
  v.image_size = 224;
  v.layer_norm_eps = 1e-6;
  v.hidden_act = "gelu_pytorch_tanh";
  return v;
}

absl::Status ParseVision(const Fields& f, VisionConfig* v) {
  std::string model_type = "siglip_vision_model";
  RETURN_IF_ERROR(f.String("model_type", &model_type));
  if (model_type != "siglip_vision_model") {
    return f.Error("model_type", absl::StrCat("unsupported vision model type \"", model_type,
                                              "\" (supported: siglip_vision_model)"));
  }
  RETURN_IF_ERROR(f.PositiveInt("hidden_size", &v->hidden_size));
  RETURN_IF_ERROR(f.PositiveInt("intermediate_size", &v->intermediate_size));
  RETURN_IF_ERROR(f.PositiveInt("num_hidden_layers", &v->num_hidden_layers));
  RETURN_IF_ERROR(f.PositiveInt("num_attention_heads", &v->num_attention_heads));
  RETURN_IF_ERROR(f.PositiveInt("num_channels", &v->num_channels));
  RETURN_IF_ERROR(f.PositiveInt("image_size", &v->image_size));
  RETURN_IF_ERROR(f.PositiveInt("patch_size", &v->patch_size));
  RETURN_IF_ERROR(f.NonNegativeNumber("layer_norm_eps", &v->layer_norm_eps));
  RETURN_IF_ERROR(f.String("hidden_act", &v->hidden_act));
  return absl::OkStatus();
}

absl::Status CheckVision(const Fields& f, const VisionConfig& v) {
  RETURN_IF_ERROR(CheckActivation(f, "hidden_act", v.hidden_act));
  if (v.hidden_size % v.num_attention_heads != 0) {  // SiglipAttention raises the same
    return f.Error("hidden_size", absl::StrCat(v.hidden_size, " is not divisible by num_attention_heads (",
                                               v.num_attention_heads, ")"));
  }
  if (v.image_size < v.patch_size) {
    return f.Error("image_size", absl::StrCat(v.image_size, " is smaller than patch_size (", v.patch_size,
                                              "): no patches"));
  }
  return absl::OkStatus();
}

// GemmaConfig() / Gemma2Config() defaults, for fields a text_config dict lacks.
TextConfig DefaultText(DecoderKind kind) {
  TextConfig t;
  t.kind = kind;
  switch (kind) {
    case DecoderKind::kGemma:
      t.vocab_size = 256000;
      t.hidden_size = 3072;
      t.intermediate_size = 24576;
      t.num_hidden_layers = 28;
      t.num_attention_heads = 16;
      t.num_key_value_heads = 16;
      t.head_dim = 256;
      t.rms_norm_eps = 1e-6;
      t.rope_theta = 10000.0;
      t.hidden_activation = "gelu_pytorch_tanh";
      t.sliding_window = 0;
      t.attn_logit_softcapping = 0.0;
      t.final_logit_softcapping = 0.0;
      t.query_pre_attn_scalar = 0.0;
      break;
    case DecoderKind::kGemma2:
      t.vocab_size = 256000;
      t.hidden_size = 2304;
      t.intermediate_size = 9216;
      t.num_hidden_layers = 26;
      t.num_attention_heads = 8;
      t.num_key_value_heads = 4;
      t.head_dim = 256;
      t.rms_norm_eps = 1e-6;
      t.rope_theta = 10000.0;
      t.hidden_activation = "gelu_pytorch_tanh";
      t.sliding_window = 4096;
      t.attn_logit_softcapping = 50.0;
      t.final_logit_softcapping = 30.0;
      t.query_pre_attn_scalar = 256.0;
      break;
  }
  return t;
}

// PaliGemmaConfig's text default (text_config absent): Gemma-2B.
TextConfig PaliGemmaDefaultText(int64_t vocab_size) {
  TextConfig t = DefaultText(DecoderKind::kGemma);
  t.hidden_size = 2048;
  t.num_hidden_layers = 18;
  t.intermediate_size = 16384;
  t.num_attention_heads = 8;
  t.num_key_value_heads = 1;
  t.vocab_size = vocab_size;
  return t;
}

// Soft-capping: null means off (0 here); a number must be positive (HF divides by it).
absl::Status SoftCap(const Fields& f, const std::string& key, double* out) {
  if (f.IsNull(key)) {
    *out = 0.0;
    return absl::OkStatus();
  }
  return f.PositiveNumber(key, out);
}

absl::Status ParseText(const Fields& f, TextConfig* t) {
  RETURN_IF_ERROR(f.PositiveInt("vocab_size", &t->vocab_size));
  RETURN_IF_ERROR(f.PositiveInt("hidden_size", &t->hidden_size));
  RETURN_IF_ERROR(f.PositiveInt("intermediate_size", &t->intermediate_size));
  RETURN_IF_ERROR(f.PositiveInt("num_hidden_layers", &t->num_hidden_layers));
  RETURN_IF_ERROR(f.PositiveInt("num_attention_heads", &t->num_attention_heads));
  RETURN_IF_ERROR(f.PositiveInt("num_key_value_heads", &t->num_key_value_heads));
  RETURN_IF_ERROR(f.PositiveInt("head_dim", &t->head_dim));
  RETURN_IF_ERROR(f.NonNegativeNumber("rms_norm_eps", &t->rms_norm_eps));
  RETURN_IF_ERROR(f.PositiveNumber("rope_theta", &t->rope_theta));
  bool attention_bias = false;
  RETURN_IF_ERROR(f.Bool("attention_bias", &attention_bias));
  if (attention_bias) return f.Error("attention_bias", "true is not supported (Gemma projections have no bias)");

  switch (t->kind) {
    case DecoderKind::kGemma:
      // GemmaMLP: hidden_activation None -> gelu_pytorch_tanh; hidden_act is ignored.
      if (!f.IsNull("hidden_activation")) RETURN_IF_ERROR(f.String("hidden_activation", &t->hidden_activation));
      break;
    case DecoderKind::kGemma2:
      RETURN_IF_ERROR(f.String("hidden_activation", &t->hidden_activation));
      RETURN_IF_ERROR(f.PositiveInt("sliding_window", &t->sliding_window));
      RETURN_IF_ERROR(f.PositiveNumber("query_pre_attn_scalar", &t->query_pre_attn_scalar));
      RETURN_IF_ERROR(SoftCap(f, "attn_logit_softcapping", &t->attn_logit_softcapping));
      RETURN_IF_ERROR(SoftCap(f, "final_logit_softcapping", &t->final_logit_softcapping));
      break;
  }
  return absl::OkStatus();
}

absl::Status CheckText(const Fields& f, const TextConfig& t) {
  RETURN_IF_ERROR(CheckActivation(f, "hidden_activation", t.hidden_activation));
  if (t.num_attention_heads % t.num_key_value_heads != 0) {
    return f.Error("num_attention_heads", absl::StrCat(t.num_attention_heads,
                                                       " is not divisible by num_key_value_heads (",
                                                       t.num_key_value_heads, ")"));
  }
  switch (t.kind) {
    case DecoderKind::kGemma:
      // GemmaAttention (4.47) raises the same, although head_dim is independent of it.
      if (t.hidden_size % t.num_attention_heads != 0) {
        return f.Error("hidden_size", absl::StrCat(t.hidden_size, " is not divisible by num_attention_heads (",
                                                   t.num_attention_heads, ")"));
      }
      break;
    case DecoderKind::kGemma2:
      break;
  }
  return absl::OkStatus();
}

// A token id that may be absent or null (None in Python).
absl::StatusOr<std::optional<std::vector<int32_t>>> TokenIds(const Fields& f, const std::string& key,
                                                             bool allow_list) {
  const json* v = f.Get(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  constexpr int64_t kMin = std::numeric_limits<int32_t>::min(), kMax = std::numeric_limits<int32_t>::max();
  std::vector<int32_t> ids;
  auto one = [&](const json& x) -> absl::Status {
    if (!x.is_number_integer() || (x.is_number_unsigned() && x.get<uint64_t>() > static_cast<uint64_t>(kMax)) ||
        (!x.is_number_unsigned() && (x.get<int64_t>() < kMin || x.get<int64_t>() > kMax))) {
      return f.Error(key, absl::StrCat("expected a 32-bit integer token id", allow_list ? " or a list of them" : "",
                                       ", got ", TypeName(x)));
    }
    ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
    return absl::OkStatus();
  };
  if (allow_list && v->is_array()) {
    if (v->empty()) return f.Error(key, "empty list");
    for (const json& x : *v) RETURN_IF_ERROR(one(x));
  } else {
    RETURN_IF_ERROR(one(*v));
  }
  return std::optional<std::vector<int32_t>>(std::move(ids));
}

absl::Status ParseSpecialTokens(const Fields& top, const Fields* text, ModelConfig* c) {
  struct Slot {
    const char* key;
    bool allow_list;
    std::vector<int32_t> value;
  };
  Slot slots[] = {{"bos_token_id", false, {2}}, {"eos_token_id", true, {1}}, {"pad_token_id", false, {0}}};
  for (Slot& s : slots) {
    absl::StatusOr<std::optional<std::vector<int32_t>>> v = TokenIds(top, s.key, s.allow_list);
    if (!v.ok()) return v.status();
    if (!v->has_value() && text != nullptr) {
      v = TokenIds(*text, s.key, s.allow_list);
      if (!v.ok()) return v.status();
    }
    if (v->has_value()) s.value = **v;
  }
  c->bos_token_id = slots[0].value.front();
  c->eos_token_ids = slots[1].value;
  c->eos_token_id = slots[1].value.front();
  c->pad_token_id = slots[2].value.front();
  return absl::OkStatus();
}

absl::Status ParseMeanStd(const Fields& f, const std::string& key, std::array<double, 3>* out, bool is_std) {
  const json* v = f.Get(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();  // None -> the ImageNet-standard 0.5
  std::array<double, 3> values;
  if (v->is_number()) {
    values.fill(v->get<double>());
  } else if (v->is_array() && v->size() == 3 && (*v)[0].is_number() && (*v)[1].is_number() &&
             (*v)[2].is_number()) {
    for (int i = 0; i < 3; ++i) values[i] = (*v)[i].get<double>();
  } else {
    return f.Error(key, absl::StrCat("expected a number or a list of 3 numbers, got ", v->dump()));
  }
  for (double x : values) {
    if (!std::isfinite(x) || (is_std && x == 0.0)) {
      return f.Error(key, absl::StrCat("invalid value in ", v->dump(), is_std ? " (must be finite and non-zero)" : ""));
    }
  }
  *out = values;
  return absl::OkStatus();
}

absl::Status ParsePreprocessor(const std::string& text, ImageProcessorConfig* p) {
  const std::string file = "preprocessor_config.json";
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(file + ": not valid JSON");
  if (!root.is_object()) return absl::InvalidArgumentError(file + ": not a JSON object");
  Fields f(root, file, "");
  RETURN_IF_ERROR(f.Bool("do_resize", &p->do_resize));
  absl::StatusOr<const json*> size = f.Object("size");
  if (!size.ok()) return size.status();
  if (*size != nullptr) {
    Fields s = f.Sub(**size, "size");
    if (!s.Has("height") || !s.Has("width")) {
      return f.Error("size", absl::StrCat("expected {\"height\", \"width\"}, got ", (*size)->dump()));
    }
    RETURN_IF_ERROR(s.PositiveInt("height", &p->height));
    RETURN_IF_ERROR(s.PositiveInt("width", &p->width));
  }
  int64_t resample = p->resample;
  RETURN_IF_ERROR(f.Int("resample", &resample, 0, 5));  // PIL.Image.Resampling NEAREST..HAMMING
  p->resample = static_cast<int>(resample);
  RETURN_IF_ERROR(f.Bool("do_rescale", &p->do_rescale));
  RETURN_IF_ERROR(f.Number("rescale_factor", &p->rescale_factor));
  RETURN_IF_ERROR(f.Bool("do_normalize", &p->do_normalize));
  RETURN_IF_ERROR(ParseMeanStd(f, "image_mean", &p->image_mean, /*is_std=*/false));
  RETURN_IF_ERROR(ParseMeanStd(f, "image_std", &p->image_std, /*is_std=*/true));
  return absl::OkStatus();
}

absl::Status ParseConfig(const std::string& text, ModelConfig* c) {
  const std::string file = "config.json";
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(file + ": not valid JSON");
  if (!root.is_object()) return absl::InvalidArgumentError(file + ": not a JSON object");
  Fields top(root, file, "");

  if (!top.Has("model_type")) return top.Error("model_type", "missing (expected \"paligemma\")");
  std::string model_type;
  RETURN_IF_ERROR(top.String("model_type", &model_type));
  if (model_type != "paligemma") {
    return top.Error("model_type", absl::StrCat("unsupported model type \"", model_type, "\" (supported: paligemma)"));
  }

  // Newer transformers map "image_token_id" onto image_token_index; accept either, not both differing.
  c->image_token_index = 256000;
  RETURN_IF_ERROR(top.Int("image_token_index", &c->image_token_index, 0));
  if (top.Has("image_token_id")) {
    int64_t alias = c->image_token_index;
    RETURN_IF_ERROR(top.Int("image_token_id", &alias, 0));
    if (top.Has("image_token_index") && alias != c->image_token_index) {
      return top.Error("image_token_id", absl::StrCat(alias, " contradicts image_token_index ", c->image_token_index));
    }
    c->image_token_index = alias;
  }
  c->projection_dim = 2048;
  RETURN_IF_ERROR(top.PositiveInt("projection_dim", &c->projection_dim));

  absl::StatusOr<const json*> vision_json = top.Object("vision_config");
  if (!vision_json.ok()) return vision_json.status();
  const Fields vision_fields = top.Sub(*vision_json ? **vision_json : root, "vision_config");
  if (*vision_json == nullptr) {
    c->vision = PaliGemmaDefaultVision();
  } else {
    c->vision = SiglipDefaultVision();
    RETURN_IF_ERROR(ParseVision(vision_fields, &c->vision));
  }
  RETURN_IF_ERROR(CheckVision(vision_fields, c->vision));

  absl::StatusOr<const json*> text_json = top.Object("text_config");
  if (!text_json.ok()) return text_json.status();
  const Fields text_fields = top.Sub(*text_json ? **text_json : root, "text_config");
  if (*text_json == nullptr) {
    int64_t top_vocab = 257152;  // the top-level vocab_size matters only here
    RETURN_IF_ERROR(top.PositiveInt("vocab_size", &top_vocab));
    c->text = PaliGemmaDefaultText(top_vocab);
  } else {
    std::string text_type = "gemma";
    RETURN_IF_ERROR(text_fields.String("model_type", &text_type));
    const DecoderTraits* traits = nullptr;
    for (const DecoderTraits& t : kDecoderTraits) {
      if (text_type == t.model_type) traits = &t;
    }
    if (traits == nullptr) {
      return text_fields.Error("model_type",
                               absl::StrCat("unsupported text model type \"", text_type, "\" (supported: gemma, gemma2)"));
    }
    c->text = DefaultText(traits->kind);
    RETURN_IF_ERROR(ParseText(text_fields, &c->text));
  }
  RETURN_IF_ERROR(CheckText(text_fields, c->text));

  c->tie_word_embeddings = true;
  if (*text_json != nullptr) RETURN_IF_ERROR(text_fields.Bool("tie_word_embeddings", &c->tie_word_embeddings));
  RETURN_IF_ERROR(ParseSpecialTokens(top, *text_json ? &text_fields : nullptr, c));

  if (c->projection_dim != c->text.hidden_size) {  // projected image features replace text embeddings
    return top.Error("projection_dim", absl::StrCat(c->projection_dim, " differs from text_config.hidden_size ",
                                                    c->text.hidden_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return absl::InternalError(absl::StrCat("error reading ", path));
  return ss.str();
}

}  // namespace

const DecoderTraits& TraitsFor(DecoderKind kind) {
  for (const DecoderTraits& t : kDecoderTraits) {
    if (t.kind == kind) return t;
  }
  return kDecoderTraits[0];  // unreachable: every DecoderKind has a row
}

float TextConfig::attention_scale() const {
  // Same double arithmetic as transformers, then rounded once to float.
  if (traits().query_pre_attn_scalar) return static_cast<float>(std::pow(query_pre_attn_scalar, -0.5));
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
}

bool TextConfig::is_sliding_layer(int64_t i) const {
  return traits().alternating_sliding_window && i % 2 == 0;  // Gemma2: `not bool(layer_idx % 2)`
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& config_json, const std::string& preprocessor_json) {
  ModelConfig c;
  try {
    RETURN_IF_ERROR(ParseConfig(config_json, &c));
    if (!preprocessor_json.empty()) RETURN_IF_ERROR(ParsePreprocessor(preprocessor_json, &c.image_processor));
  } catch (const std::exception& e) {  // nlohmann accessors; the type checks above should leave none
    return absl::InvalidArgumentError(absl::StrCat("malformed model config: ", e.what()));
  }
  ImageProcessorConfig& p = c.image_processor;
  if (preprocessor_json.empty()) {
    // No preprocessor_config.json: resize to what the vision tower takes.
    p.height = p.width = c.vision.image_size;
  } else if (p.do_resize && (p.height != c.vision.image_size || p.width != c.vision.image_size)) {
    return absl::InvalidArgumentError(absl::StrCat("preprocessor_config.json: size ", p.height, "x", p.width,
                                                   " differs from config.json vision_config.image_size ",
                                                   c.vision.image_size));
  }
  return c;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir) {
  absl::StatusOr<std::string> config = ReadFile(dir + "/config.json");
  if (!config.ok()) return config.status();
  std::string preprocessor;
  const std::string pre_path = dir + "/preprocessor_config.json";
  if (std::ifstream(pre_path).good()) {
    absl::StatusOr<std::string> text = ReadFile(pre_path);
    if (!text.ok()) return text.status();
    preprocessor = *std::move(text);
    if (preprocessor.empty()) return absl::InvalidArgumentError(pre_path + " is empty");
  }
  absl::StatusOr<ModelConfig> c = ParseModelConfig(*config, preprocessor);
  if (!c.ok()) return absl::Status(c.status().code(), absl::StrCat(dir, "/", c.status().message()));
  return c;
}

}  // namespace drivelm::engine
