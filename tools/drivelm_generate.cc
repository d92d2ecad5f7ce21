// drivelm_generate: answers one question about camera images with a checkpoint, on the CPU.
//
//   bazel run //tools:drivelm_generate -- --model DIR --image CAM_FRONT=a.jpg ... \
//     --question TEXT [--max_new_tokens N] [--greedy | --temperature T --top_p P --seed S]
//     [--print_token_ids]
//
// Prints the answer (streamed as it is generated); with --print_token_ids also a line
// `token_ids: 1 2 3` of the generated ids; timings and FLOPs by phase go to stderr.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/generator.h"

ABSL_FLAG(std::string, model, "", "checkpoint directory (config.json, model.safetensors, ...)");
ABSL_FLAG(std::vector<std::string>, image, {},
          "CAMERA=PATH, one per camera; repeat the flag (or separate by commas)");
ABSL_FLAG(std::string, question, "", "the question");
ABSL_FLAG(std::string, profile, "",
          "model profile YAML (default: MODEL/drivelm_profile.yaml when present)");
ABSL_FLAG(bool, raw_prompt, false,
          "use --question as the whole prompt (no profile template or rescaling)");
ABSL_FLAG(int32_t, max_new_tokens, 0, "tokens to generate at most (0: the profile's)");
ABSL_FLAG(bool, greedy, false, "greedy decoding (the default unless sampling flags are given)");
ABSL_FLAG(double, temperature, 0.0, "sampling temperature (> 0 enables sampling)");
ABSL_FLAG(double, top_p, 1.0, "nucleus sampling threshold");
ABSL_FLAG(int32_t, top_k, 0, "top-k sampling (0: off)");
ABSL_FLAG(uint64_t, seed, 0, "sampling seed");
ABSL_FLAG(bool, print_token_ids, false, "also print `token_ids: ...`");
ABSL_FLAG(int32_t, threads, 0, "CPU threads (0: all cores)");

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// absl's vector flags keep only the last occurrence; --image is meant to repeat, so its
// occurrences are collected here and removed before absl parses the rest.
std::vector<std::string> TakeRepeatedFlag(const std::string& name, int* argc, char** argv) {
  std::vector<std::string> values;
  const std::string flag = "--" + name, flag_eq = "--" + name + "=";
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {  // end of flags: keep the rest as is
      for (; i < *argc; ++i) argv[out++] = argv[i];
      break;
    }
    if (arg == flag && i + 1 < *argc) {
      values.push_back(argv[++i]);
    } else if (arg.rfind(flag_eq, 0) == 0) {
      values.push_back(arg.substr(flag_eq.size()));
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  std::vector<std::string> split;
  for (const std::string& v : values) {
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      if (comma > start) split.push_back(v.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return split;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "drivelm_generate: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Answers a question about camera images: drivelm_generate --model DIR "
      "--image CAM_FRONT=a.jpg ... --question TEXT");
  const std::vector<std::string> image_specs = TakeRepeatedFlag("image", &argc, argv);
  absl::ParseCommandLine(argc, argv);
  using namespace drivelm::engine;

  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return Fail("--model DIR is required");
  GenerateRequest request;
  request.question = absl::GetFlag(FLAGS_question);
  if (request.question.empty()) return Fail("--question TEXT is required");
  request.raw_prompt = absl::GetFlag(FLAGS_raw_prompt);
  for (const std::string& spec : image_specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return Fail(absl::StrCat("--image must be CAMERA=PATH, not '", spec, "'"));
    }
    CameraImage image;
    image.camera = spec.substr(0, eq);
    const std::string path = spec.substr(eq + 1);
    if (!ReadFile(path, &image.encoded)) return Fail(absl::StrCat("cannot read image ", path));
    request.images.push_back(std::move(image));
  }
  if (request.images.empty()) return Fail("at least one --image CAMERA=PATH is required");
  if (absl::GetFlag(FLAGS_max_new_tokens) > 0) {
    request.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  }
  const bool sampling = absl::GetFlag(FLAGS_temperature) > 0;
  if (sampling && absl::GetFlag(FLAGS_greedy)) {
    return Fail("--greedy and --temperature exclude each other");
  }
  if (sampling) {
    SamplingParams params;
    params.greedy = false;
    params.temperature = absl::GetFlag(FLAGS_temperature);
    params.top_p = absl::GetFlag(FLAGS_top_p);
    params.top_k = absl::GetFlag(FLAGS_top_k);
    params.seed = absl::GetFlag(FLAGS_seed);
    request.sampling = params;
  } else if (absl::GetFlag(FLAGS_greedy)) {
    request.sampling = SamplingParams{};  // greedy
  }

  CpuBackend backend(absl::GetFlag(FLAGS_threads));
  GeneratorOptions options;
  options.profile_path = absl::GetFlag(FLAGS_profile);
  absl::StatusOr<std::unique_ptr<Generator>> generator =
      Generator::Load(model_dir, &backend, options);
  if (!generator.ok()) return Fail(std::string(generator.status().message()));

  absl::StatusOr<GenerateResult> result =
      (*generator)->Generate(request, [](const std::string& delta) {
        std::fwrite(delta.data(), 1, delta.size(), stdout);
        std::fflush(stdout);
      });
  if (!result.ok()) {
    std::printf("\n");
    return Fail(std::string(result.status().message()));
  }
  std::printf("\n");
  if (absl::GetFlag(FLAGS_print_token_ids)) {
    std::printf("token_ids:");
    for (int32_t id : result->token_ids) std::printf(" %d", id);
    std::printf("\n");
  }
  const GenerateResult& r = *result;
  const size_t n = r.token_ids.size();
  std::fprintf(stderr,
               "finish=%s prompt_tokens=%lld generated=%zu | images %.1f ms, vision %.1f ms "
               "(%.3f GFLOP), prefill %.1f ms (%.3f GFLOP), decode %.1f ms (%.1f tokens/s, "
               "%.3f GFLOP)\n",
               FinishReasonName(r.finish_reason), static_cast<long long>(r.prompt_tokens), n,
               r.times.image_decode_s * 1e3, r.times.vision_s * 1e3, r.flops.vision / 1e9,
               r.times.prefill_s * 1e3, r.flops.prefill / 1e9, r.times.decode_s * 1e3,
               r.times.decode_s > 0 && n > 1 ? (n - 1) / r.times.decode_s : 0.0,
               r.flops.decode / 1e9);
  return 0;
}
