// End-to-end phase benchmark of the CPU engine on a ~100M-parameter PaliGemma-architecture model
// generated at start (random weights, tools/tiny_model_spec.h), for the six-camera case:
//   1. image decode + resize + normalize per camera (1600x900 JPEG -> 224x224)
//   2. vision tower + projector per image
//   3. prefill of the six-camera prompt (6 x 256 image tokens + ~40 text tokens)
//   4. greedy decode at batch 1 after that prefill, and its achieved memory bandwidth
// plus references measured in-process on the same threads: the machine's read bandwidth (a
// 512 MiB multi-threaded sum right before and right after the decode runs), sgemm (the backend's
// Linear) at the prefill's MLP shapes, and one layer's prefill Attention(), which together split
// the prefill time into linear layers, attention and the rest.
//
//   bazel run -c opt //benchmarks:engine_bench -- [--threads 2] [--json FILE] [--image a.jpg]
//       [--model_out DIR --save_image FILE]   (inputs for benchmarks/hf_cpu_baseline.py)
//
// Times are medians of repeated runs (wall clock, steady_clock); the table also gives the
// minimum and, per phase, `other`: the CPUs other processes kept busy meanwhile (/proc/stat minus
// this process's getrusage), since the machine may be shared. FLOPs come from the model's own
// counters (PaliGemmaModel::VisionFlops / PrefillFlops / DecodeFlops, 2 per multiply-add).
// Decode bytes per step = every decoder weight as the CPU backend stores it (F32; the tied
// embedding table counted once, as the LM head streams it whole) + the KV cache rows read.
// Runs in about 30 s on 2 cores.
#include <emmintrin.h>
#include <sys/resource.h>
#include <unistd.h>

#include <turbojpeg.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "benchmarks/bench_model_dir.h"
#include "absl/strings/str_format.h"
#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/thread_pool.h"
#include "engine/model/model_config.h"
#include "engine/model/paligemma_model.h"
#include "engine/model/weight_store.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/vision/image_decoder.h"
#include "engine/vision/image_processor.h"
#include "nlohmann/json.hpp"
#include "tools/tiny_model_spec.h"

ABSL_FLAG(int32_t, threads, 2, "CPU threads for the backend, OpenBLAS and the bandwidth test");
ABSL_FLAG(std::string, image, "",
          "a JPEG to use for every camera (default: a synthetic 1600x900 road scene, q90)");
ABSL_FLAG(std::string, json, "", "also write the results as JSON to this file");
ABSL_FLAG(std::string, save_image, "",
          "write the JPEG used for every camera to this file (e.g. for hf_cpu_baseline.py)");
ABSL_FLAG(std::string, model_out, "",
          "write the generated checkpoint here and keep it (default: a temp dir, removed)");
ABSL_FLAG(std::string, question,
          "What are the important objects in the current scene? Those objects will be "
          "considered for the future reasoning and driving decision.",
          "question text of the six-camera prompt");
ABSL_FLAG(int32_t, cameras, 6, "images in the prompt");
ABSL_FLAG(int32_t, image_repeats, 30, "runs of the per-camera image pipeline (median)");
ABSL_FLAG(int32_t, vision_repeats, 5, "runs of the vision tower (median)");
ABSL_FLAG(int32_t, prefill_repeats, 3, "runs of the prefill (median)");
ABSL_FLAG(int32_t, decode_tokens, 32, "greedy tokens generated after each prefill");
ABSL_FLAG(int32_t, decode_repeats, 2, "prefill + decode runs for the decode figures");
ABSL_FLAG(int64_t, bandwidth_mib, 512, "buffer of the in-process read-bandwidth test (>> L3)");
ABSL_FLAG(uint64_t, seed, 1, "weights seed");
// Model sizes (defaults: 96.4M parameters; the breakdown is printed at start).
ABSL_FLAG(int64_t, vision_hidden, 384, "SigLIP hidden size");
ABSL_FLAG(int64_t, vision_intermediate, 1536, "SigLIP MLP size");
ABSL_FLAG(int64_t, vision_layers, 6, "SigLIP layers");
ABSL_FLAG(int64_t, vision_heads, 6, "SigLIP heads");
ABSL_FLAG(int64_t, hidden, 768, "decoder hidden size");
ABSL_FLAG(int64_t, intermediate, 3072, "decoder MLP size");
ABSL_FLAG(int64_t, layers, 10, "decoder layers");
ABSL_FLAG(int64_t, heads, 12, "decoder attention heads");
ABSL_FLAG(int64_t, kv_heads, 1, "decoder key/value heads");
ABSL_FLAG(int64_t, head_dim, 64, "decoder head dimension");

namespace drivelm::engine {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Min(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

// CPU time taken by other processes while a phase ran: the machine is shared, so every phase
// reports it (in CPUs, 0 .. number of CPUs) and figures taken under load can be recognized.
struct CpuSnapshot {
  Clock::time_point wall;
  double busy_s = 0;  // all CPUs' non-idle time since boot (/proc/stat)
  double self_s = 0;  // this process's user + system time, all threads
};

CpuSnapshot TakeSnapshot() {
  CpuSnapshot snap;
  snap.wall = Clock::now();
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) {
    snap.busy_s = (user + nice + system + irq + softirq + steal) /
                  static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    snap.self_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                  usage.ru_stime.tv_usec * 1e-6;
  }
  return snap;
}

// Average number of CPUs other processes kept busy between two snapshots.
double OtherCpus(const CpuSnapshot& a, const CpuSnapshot& b) {
  const double wall = std::chrono::duration<double>(b.wall - a.wall).count();
  if (wall <= 0) return 0;
  return std::max(0.0, ((b.busy_s - a.busy_s) - (b.self_s - a.self_s)) / wall);
}

// OtherCpus averaged over several intervals (e.g. only the decode steps of runs that also
// prefill).
class LoadMeter {
 public:
  void Start() { start_ = TakeSnapshot(); }
  void Stop() {
    const CpuSnapshot end = TakeSnapshot();
    const double wall = std::chrono::duration<double>(end.wall - start_.wall).count();
    other_s_ += OtherCpus(start_, end) * wall;
    wall_s_ += wall;
  }
  double Average() const { return wall_s_ > 0 ? other_s_ / wall_s_ : 0; }

 private:
  CpuSnapshot start_;
  double other_s_ = 0, wall_s_ = 0;
};

// A 1600x900 road scene: sky gradient, grass verges, a gray road in perspective with lane marks,
// a few box "vehicles", and per-pixel noise, so the JPEG has realistic structure and entropy.
Image RoadScene(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(image.num_values()));
  const int horizon = height * 45 / 100;
  struct Box {
    int x0, y0, x1, y1;
    uint8_t r, g, b;
  };
  const Box boxes[] = {{700, 430, 860, 540, 40, 40, 48},    {980, 450, 1080, 520, 180, 20, 24},
                       {300, 470, 560, 640, 220, 220, 225}, {1250, 440, 1420, 560, 30, 60, 120},
                       {820, 380, 840, 430, 20, 200, 40}};
  uint64_t state = 12345;
  for (int y = 0; y < height; ++y) {
    uint8_t* row = image.row(y);
    for (int x = 0; x < width; ++x) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const int noise = static_cast<int>(state >> 61) - 4;  // [-4, 3]: sensor-like grain
      int r, g, b;
      if (y < horizon) {
        const int t = y * 255 / horizon;
        r = 110 + t / 3, g = 150 + t / 4, b = 215 - t / 8;
      } else {
        // Road edges converge at (width/2, horizon).
        const double depth = static_cast<double>(y - horizon) / (height - horizon);
        const double half = 40 + depth * width * 0.55;
        const double dx = x - width / 2.0;
        if (std::abs(dx) < half) {
          r = g = b = 90 + static_cast<int>(30 * depth);
          // Lane marks: dashed, at +-1/3 of the road half-width.
          const double lane = std::abs(std::abs(dx) - half / 3);
          if (lane < 2 + 6 * depth && (static_cast<int>(std::pow(depth, 0.3) * 60) % 2 == 0)) {
            r = g = b = 235;
          }
        } else {
          r = 70, g = 120 + static_cast<int>(40 * depth), b = 50;
        }
      }
      for (const Box& box : boxes) {
        if (x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1) {
          const bool window = y < box.y0 + (box.y1 - box.y0) / 3 && x > box.x0 + 10 &&
                              x < box.x1 - 10;
          r = window ? 60 : box.r, g = window ? 80 : box.g, b = window ? 100 : box.b;
        }
      }
      row[3 * x + 0] = static_cast<uint8_t>(std::clamp(r + noise, 0, 255));
      row[3 * x + 1] = static_cast<uint8_t>(std::clamp(g + noise, 0, 255));
      row[3 * x + 2] = static_cast<uint8_t>(std::clamp(b + noise, 0, 255));
    }
  }
  return image;
}

absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality) {
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) return absl::InternalError("tjInitCompress failed");
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(handle, image.pixels.data(), static_cast<int>(image.width), 0,
                             static_cast<int>(image.height), TJPF_RGB, &buffer, &size, TJSAMP_420,
                             quality, TJFLAG_ACCURATEDCT);
  std::string out;
  if (rc == 0) out.assign(reinterpret_cast<const char*>(buffer), size);
  const std::string error = rc == 0 ? "" : tjGetErrorStr2(handle);
  tjFree(buffer);
  tjDestroy(handle);
  if (rc != 0) return absl::InternalError(absl::StrCat("tjCompress2: ", error));
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--image ", path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Sum of 64-bit words in 128-bit lanes with 4 independent accumulators (SSE2, in every x86-64;
// the loop of //benchmarks:memory_bandwidth), so the adds never limit the read rate.
uint64_t SumWords(const uint64_t* p, int64_t n) {
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = _mm_add_epi64(a0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    a1 = _mm_add_epi64(a1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 2)));
    a2 = _mm_add_epi64(a2, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 4)));
    a3 = _mm_add_epi64(a3, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 6)));
  }
  alignas(16) uint64_t lanes[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes),
                  _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3)));
  uint64_t s = lanes[0] + lanes[1];
  for (; i < n; ++i) s += p[i];
  return s;
}

// Best-of-5 read bandwidth (bytes/s) of `buf` summed by `pool`'s threads in 4 MiB chunks.
double MeasureReadBandwidth(const std::vector<uint64_t>& buf, ThreadPool& pool) {
  const int64_t words = static_cast<int64_t>(buf.size());
  const int64_t piece = int64_t{1} << 19;  // 4 MiB per chunk
  const int64_t pieces = (words + piece - 1) / piece;
  volatile uint64_t sink = 0;
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    std::atomic<uint64_t> total{0};
    const auto t0 = Clock::now();
    pool.ParallelFor(pieces, [&](int64_t p0, int64_t p1) {
      const int64_t b = p0 * piece, e = std::min(words, p1 * piece);
      total.fetch_add(SumWords(buf.data() + b, e - b));
    });
    best = std::min(best, Seconds(t0));
    sink = sink + total.load();
  }
  return 8.0 * static_cast<double>(words) / best;
}

struct ParamCounts {
  int64_t vision = 0, projector = 0, decoder_layers = 0, embedding = 0, other_text = 0;
  int64_t total() const { return vision + projector + decoder_layers + embedding + other_text; }
  int64_t decoder() const { return decoder_layers + embedding + other_text; }
};

absl::StatusOr<ParamCounts> CountParams(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<WeightStore>> store = WeightStore::Open(dir);
  if (!store.ok()) return store.status();
  ParamCounts c;
  for (const std::string& name : (*store)->Names()) {
    const int64_t n = NumElements((*store)->Find(name)->shape);
    if (absl::StartsWith(name, "vision_tower.")) {
      c.vision += n;
    } else if (absl::StartsWith(name, "multi_modal_projector.")) {
      c.projector += n;
    } else if (absl::StrContains(name, ".layers.")) {
      c.decoder_layers += n;
    } else if (absl::StrContains(name, "embed_tokens") || absl::StrContains(name, "lm_head")) {
      c.embedding += n;
    } else {
      c.other_text += n;
    }
  }
  return c;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "engine_bench: %s\n", s.ToString().c_str());
  return 1;
}

int Run() {
  const int threads = absl::GetFlag(FLAGS_threads);
  const int cameras = absl::GetFlag(FLAGS_cameras);
  const int n_decode = absl::GetFlag(FLAGS_decode_tokens);
  if (threads < 1 || cameras < 1 || n_decode < 2 || absl::GetFlag(FLAGS_image_repeats) < 1 ||
      absl::GetFlag(FLAGS_vision_repeats) < 1 || absl::GetFlag(FLAGS_prefill_repeats) < 1 ||
      absl::GetFlag(FLAGS_decode_repeats) < 1 || absl::GetFlag(FLAGS_bandwidth_mib) < 1) {
    return Fail(absl::InvalidArgumentError(
        "--threads, --cameras, repeats and --bandwidth_mib must be >= 1, --decode_tokens >= 2"));
  }
  nlohmann::json js;
  js["threads"] = threads;

  // ---- Camera image (read first: a bad --image fails before the model is generated) ----
  std::string jpeg;
  std::string image_source;
  if (!absl::GetFlag(FLAGS_image).empty()) {
    absl::StatusOr<std::string> file = ReadFile(absl::GetFlag(FLAGS_image));
    if (!file.ok()) return Fail(file.status());
    jpeg = std::move(*file);
    image_source = absl::GetFlag(FLAGS_image);
  } else {
    absl::StatusOr<std::string> encoded = EncodeJpeg(RoadScene(1600, 900), 90);
    if (!encoded.ok()) return Fail(encoded.status());
    jpeg = std::move(*encoded);
    image_source = "synthetic 1600x900 road scene, JPEG q90 4:2:0";
  }
  if (!absl::GetFlag(FLAGS_save_image).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_save_image), std::ios::binary);
    out.write(jpeg.data(), static_cast<std::streamsize>(jpeg.size()));
    if (!out) {
      return Fail(absl::InternalError(
          absl::StrCat("--save_image ", absl::GetFlag(FLAGS_save_image), ": cannot write")));
    }
  }

  // ---- Model ----
  tools::TinyModelSpec spec;
  spec.seed = absl::GetFlag(FLAGS_seed);
  spec.image_size = 224;
  spec.patch_size = 14;
  spec.vision_hidden = absl::GetFlag(FLAGS_vision_hidden);
  spec.vision_intermediate = absl::GetFlag(FLAGS_vision_intermediate);
  spec.vision_layers = absl::GetFlag(FLAGS_vision_layers);
  spec.vision_heads = absl::GetFlag(FLAGS_vision_heads);
  spec.hidden = absl::GetFlag(FLAGS_hidden);
  spec.intermediate = absl::GetFlag(FLAGS_intermediate);
  spec.layers = absl::GetFlag(FLAGS_layers);
  spec.heads = absl::GetFlag(FLAGS_heads);
  spec.kv_heads = absl::GetFlag(FLAGS_kv_heads);
  spec.head_dim = absl::GetFlag(FLAGS_head_dim);
  absl::StatusOr<std::unique_ptr<benchmarks::BenchModelDir>> model_dir =
      benchmarks::BenchModelDir::Create(absl::GetFlag(FLAGS_model_out), "engine_bench");
  if (!model_dir.ok()) return Fail(model_dir.status());
  const std::string& dir = (*model_dir)->path();
  const bool keep = (*model_dir)->kept();
  auto t0 = Clock::now();
  if (absl::Status s = tools::WriteTinyModel(spec, dir); !s.ok()) return Fail(s);
  const double write_s = Seconds(t0);
  absl::StatusOr<ParamCounts> params = CountParams(dir);
  if (!params.ok()) return Fail(params.status());

  CpuBackend backend(threads);
  t0 = Clock::now();
  absl::StatusOr<std::unique_ptr<PaliGemmaModel>> loaded = PaliGemmaModel::Load(dir, &backend);
  if (!loaded.ok()) return Fail(loaded.status());
  const double load_s = Seconds(t0);
  PaliGemmaModel& model = **loaded;
  const ModelConfig& config = model.config();
  TokenizerOptions tok_options;
  tok_options.bos_id = config.bos_token_id;
  tok_options.eos_id = config.eos_token_id;
  tok_options.pad_id = config.pad_token_id;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(dir + "/tokenizer.model", tok_options);
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  const TextConfig& tc = config.text;
  std::printf("engine_bench: CPU backend, %d threads; model generated in %.1f s, loaded in %.2f "
              "s%s\n",
              threads, write_s, load_s, keep ? (" (kept at " + dir + ")").c_str() : "");
  std::printf("\nModel (random weights, F32, Gemma decoder)\n");
  std::printf("  vision   SigLIP %lld hidden / %lld MLP / %lld layers / %lld heads, patch %lld, "
              "image %lld -> %lld tokens\n",
              (long long)config.vision.hidden_size, (long long)config.vision.intermediate_size,
              (long long)config.vision.num_hidden_layers,
              (long long)config.vision.num_attention_heads, (long long)config.vision.patch_size,
              (long long)config.vision.image_size, (long long)config.image_tokens_per_image());
  std::printf("  decoder  Gemma %lld hidden / %lld MLP / %lld layers / %lld heads / %lld kv head "
              "/ head_dim %lld, vocab %lld\n",
              (long long)tc.hidden_size, (long long)tc.intermediate_size,
              (long long)tc.num_hidden_layers, (long long)tc.num_attention_heads,
              (long long)tc.num_key_value_heads, (long long)tc.head_dim,
              (long long)tc.vocab_size);
  std::printf("  params   %.2fM total = vision %.2fM + projector %.2fM + decoder layers %.2fM + "
              "embedding %.2fM + final norm %.3fM\n"
              "           (the embedding is the tied LM head; the generated tokenizer's %lld-entry "
              "vocabulary keeps it small: PaliGemma's 257k would add %.0fM at this width)\n",
              params->total() / 1e6, params->vision / 1e6, params->projector / 1e6,
              params->decoder_layers / 1e6, params->embedding / 1e6, params->other_text / 1e6,
              (long long)tc.vocab_size, 257216.0 * tc.hidden_size / 1e6);
  js["model"] = {{"vision_hidden", config.vision.hidden_size},
                 {"vision_intermediate", config.vision.intermediate_size},
                 {"vision_layers", config.vision.num_hidden_layers},
                 {"vision_heads", config.vision.num_attention_heads},
                 {"hidden", tc.hidden_size},
                 {"intermediate", tc.intermediate_size},
                 {"layers", tc.num_hidden_layers},
                 {"heads", tc.num_attention_heads},
                 {"kv_heads", tc.num_key_value_heads},
                 {"head_dim", tc.head_dim},
                 {"vocab", tc.vocab_size},
                 {"params_total", params->total()},
                 {"params_vision", params->vision},
                 {"params_projector", params->projector},
                 {"params_decoder", params->decoder()},
                 {"params_embedding", params->embedding}};

  // ---- Reference: machine read bandwidth (buffer set up here, measured around decode) ----
  // The read-bandwidth buffer, touched now so that page faults are not timed. The machine is a
  // VM whose two-thread bandwidth changes with where the host places its vCPUs, so the
  // bandwidth is measured right before and right after the decode runs and the higher figure
  // is the reference (the decode share is thus conservative).
  std::vector<uint64_t> bw_buf(
      static_cast<size_t>((absl::GetFlag(FLAGS_bandwidth_mib) << 20) / 8));
  for (size_t i = 0; i < bw_buf.size(); ++i) bw_buf[i] = i;
  ThreadPool bw_pool(threads);
  CpuSnapshot snap0;

  // ---- 1. Image pipeline, per camera ----
  absl::StatusOr<ImageProcessor> processor =
      ImageProcessor::Create(OptionsFromConfig(config.image_processor));
  if (!processor.ok()) return Fail(processor.status());
  absl::StatusOr<ProcessedImage> processed = processor->Process(jpeg);  // warm-up, resizer cache
  if (!processed.ok()) return Fail(processed.status());
  std::vector<double> t_decode, t_resize, t_process;
  snap0 = TakeSnapshot();
  std::vector<float> scratch(static_cast<size_t>(processor->output_size()));
  for (int i = 0; i < absl::GetFlag(FLAGS_image_repeats); ++i) {
    t0 = Clock::now();
    absl::StatusOr<Image> image = DecodeImage(jpeg);
    t_decode.push_back(Seconds(t0));
    if (!image.ok()) return Fail(image.status());
    t0 = Clock::now();
    if (absl::Status s = processor->ProcessInto(*image, scratch.data()); !s.ok()) return Fail(s);
    t_resize.push_back(Seconds(t0));
    t0 = Clock::now();
    absl::StatusOr<ProcessedImage> p = processor->Process(jpeg);
    t_process.push_back(Seconds(t0));
    if (!p.ok()) return Fail(p.status());
  }
  const double load_image = OtherCpus(snap0, TakeSnapshot());
  const double img_decode = Median(t_decode), img_resize = Median(t_resize),
               img_total = Median(t_process);

  // ---- 2. Vision tower + projector ----
  const int64_t side = config.image_processor.height;
  std::vector<float> pixels;  // [cameras, 3, side, side]
  for (int c = 0; c < cameras; ++c) {
    pixels.insert(pixels.end(), processed->pixel_values.begin(), processed->pixel_values.end());
  }
  Tensor pix1 = backend.Upload(DType::kF32, {1, 3, side, config.image_processor.width},
                               pixels.data());
  Tensor pixn = backend.Upload(DType::kF32, {cameras, 3, side, config.image_processor.width},
                               pixels.data());
  Tensor features = model.EncodeImages(pixn);  // warm-up; kept for the prefill
  std::vector<double> t_vis1, t_visn;
  snap0 = TakeSnapshot();
  for (int i = 0; i < absl::GetFlag(FLAGS_vision_repeats); ++i) {
    t0 = Clock::now();
    Tensor f1 = model.EncodeImages(pix1);
    t_vis1.push_back(Seconds(t0));
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_vision_repeats); ++i) {
    t0 = Clock::now();
    Tensor fn = model.EncodeImages(pixn);
    t_visn.push_back(Seconds(t0));
  }
  const double load_vision = OtherCpus(snap0, TakeSnapshot());
  const double vis1 = Median(t_vis1), visn = Median(t_visn);
  const double vis_flops1 = model.VisionFlops(1), vis_flopsn = model.VisionFlops(cameras);

  // ---- 3. Prefill ----
  absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->BuildPaliGemmaPrompt(
      absl::GetFlag(FLAGS_question), cameras, static_cast<int>(config.image_tokens_per_image()));
  if (!ids.ok()) return Fail(ids.status());
  const int64_t prompt_len = static_cast<int64_t>(ids->size());
  const int64_t text_tokens = prompt_len - cameras * config.image_tokens_per_image();
  std::vector<float> logits(static_cast<size_t>(tc.vocab_size));
  auto argmax = [&] {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  };
  std::vector<double> t_prefill;
  LoadMeter prefill_meter, decode_meter;
  prefill_meter.Start();
  for (int i = 0; i < absl::GetFlag(FLAGS_prefill_repeats); ++i) {
    t0 = Clock::now();
    std::unique_ptr<SequenceKvCache> cache = model.NewCache(prompt_len + n_decode);
    absl::StatusOr<Tensor> out = model.Prefill(*ids, features, cache.get());
    if (!out.ok()) return Fail(out.status());
    backend.DownloadF32(*out, logits.data());
    t_prefill.push_back(Seconds(t0));
  }
  prefill_meter.Stop();
  const double prefill_flops = model.PrefillFlops(prompt_len);

  // sgemm (the backend's Linear) at the prefill's MLP shapes: [prompt_len, hidden] x [inter,
  // hidden]^T and [prompt_len, inter] x [hidden, inter]^T, best of 3 each.
  auto sgemm_rate = [&](int64_t m, int64_t k, int64_t n) {
    std::vector<float> host(static_cast<size_t>(std::max(m * k, n * k)));
    for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) / 1e3f;
    Tensor x = backend.Upload(DType::kF32, {m, k}, host.data());
    Tensor w = backend.Upload(DType::kF32, {n, k}, host.data());
    Tensor y = backend.Empty(DType::kF32, {m, n});
    std::vector<double> t;
    for (int i = 0; i < 4; ++i) {
      const auto s = Clock::now();
      backend.Linear(x, w, nullptr, &y);
      if (i > 0) t.push_back(Seconds(s));
    }
    return 2.0 * m * k * n / Min(t);
  };
  snap0 = TakeSnapshot();
  const double sgemm_up = sgemm_rate(prompt_len, tc.hidden_size, tc.intermediate_size);
  const double sgemm_down = sgemm_rate(prompt_len, tc.intermediate_size, tc.hidden_size);
  const double sgemm_peak = std::max(sgemm_up, sgemm_down);
  // One layer's prefill attention (every key visible: the whole prompt is the prefix), best of
  // 2: with the sgemm rate it splits the prefill time into linear layers, attention and the rest.
  double attn_layer_s = 0;
  {
    const int64_t qd = tc.num_attention_heads * tc.head_dim;
    const int64_t kvd = tc.num_key_value_heads * tc.head_dim;
    std::vector<float> host(static_cast<size_t>(prompt_len * qd));
    for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) / 1e3f;
    Tensor q = backend.Upload(DType::kF32, {prompt_len, tc.num_attention_heads, tc.head_dim},
                              host.data());
    Tensor k = backend.Upload(DType::kF32, {prompt_len, tc.num_key_value_heads, tc.head_dim},
                              host.data());
    Tensor v = backend.Upload(DType::kF32, {prompt_len, tc.num_key_value_heads, tc.head_dim},
                              host.data() + prompt_len * kvd);
    Tensor out = backend.Empty(DType::kF32, {prompt_len, tc.num_attention_heads, tc.head_dim});
    AttentionParams ap;
    ap.scale = tc.attention_scale();
    ap.causal = true;
    ap.q_start = 0;
    ap.prefix_len = prompt_len;
    std::vector<double> t;
    for (int i = 0; i < 2; ++i) {
      const auto s = Clock::now();
      backend.Attention(q, k, v, ap, &out);
      t.push_back(Seconds(s));
    }
    attn_layer_s = Min(t);
  }
  const double attn_flops = 4.0 * prompt_len * prompt_len * tc.num_attention_heads *
                            tc.head_dim * tc.num_hidden_layers;
  const double load_sgemm = OtherCpus(snap0, TakeSnapshot());

  // ---- 4. Decode ----
  snap0 = TakeSnapshot();
  const double machine_bw_before = MeasureReadBandwidth(bw_buf, bw_pool);
  double load_bw = OtherCpus(snap0, TakeSnapshot());
  std::vector<double> t_step;
  std::vector<int32_t> generated;
  double decode_flops = 0;
  int64_t kv_rows_read = 0;
  for (int r = 0; r < absl::GetFlag(FLAGS_decode_repeats); ++r) {
    prefill_meter.Start();
    t0 = Clock::now();
    std::unique_ptr<SequenceKvCache> cache = model.NewCache(prompt_len + n_decode);
    absl::StatusOr<Tensor> out = model.Prefill(*ids, features, cache.get());
    if (!out.ok()) return Fail(out.status());
    backend.DownloadF32(*out, logits.data());
    t_prefill.push_back(Seconds(t0));  // more prefill samples for free
    prefill_meter.Stop();
    std::vector<int32_t> tokens = {argmax()};
    decode_meter.Start();
    for (int i = 1; i < n_decode; ++i) {
      t0 = Clock::now();
      absl::StatusOr<Tensor> step = model.Decode(tokens.back(), cache.get());
      if (!step.ok()) return Fail(step.status());
      backend.DownloadF32(*step, logits.data());
      tokens.push_back(argmax());
      t_step.push_back(Seconds(t0));
      if (r == 0) {
        decode_flops += model.DecodeFlops(cache->length() - 1);
        kv_rows_read += cache->length();
      }
    }
    decode_meter.Stop();
    if (r == 0) generated = tokens;
  }
  const double load_prefill = prefill_meter.Average(), load_decode = decode_meter.Average();
  snap0 = TakeSnapshot();
  const double machine_bw_after = MeasureReadBandwidth(bw_buf, bw_pool);
  load_bw = std::max(load_bw, OtherCpus(snap0, TakeSnapshot()));
  const double machine_bw = std::max(machine_bw_before, machine_bw_after);
  const double step = Median(t_step);
  const double prefill = Median(t_prefill);  // prefill_repeats + decode_repeats samples
  const int64_t steps = n_decode - 1;
  decode_flops /= static_cast<double>(steps);
  // Bytes read per decode step: every decoder weight in F32 (what the CPU backend holds) + the
  // keys and values of every cached row of every layer.
  const double weight_bytes = 4.0 * static_cast<double>(params->decoder());
  const double kv_bytes = 4.0 * 2 * tc.num_hidden_layers * tc.num_key_value_heads * tc.head_dim *
                          static_cast<double>(kv_rows_read) / static_cast<double>(steps);
  const double step_bytes = weight_bytes + kv_bytes;
  const double decode_bw = step_bytes / step;

  // ---- Report ----
  std::printf("\nInputs: %d cameras, image %s (%zu bytes); prompt %lld tokens = %d x %lld image "
              "+ %lld text (bos + question + \\n); %d greedy decode tokens\n",
              cameras, image_source.c_str(), jpeg.size(), (long long)prompt_len, cameras,
              (long long)config.image_tokens_per_image(), (long long)text_tokens, n_decode);
  std::printf("\n%-44s %12s %12s %13s %9s %7s\n", "phase", "median", "min", "rate (median)",
              "GFLOP/s", "other");
  std::printf("%-44s %12s %12s %13s %9s %7s\n", std::string(44, '-').c_str(), "------", "---",
              "-------------", "-------", "-----");
  // `other`: CPUs kept busy by other processes while the phase ran (shared machine).
  auto row = [](const std::string& name, const std::vector<double>& t, double scale,
                const std::string& unit, double units, double flops, double load) {
    const double med = Median(t) * scale, min = Min(t) * scale;
    std::printf("%-44s %9.3f ms %9.3f ms %13s %9s %7.2f\n", name.c_str(), med * 1e3, min * 1e3,
                unit.empty() ? "" : absl::StrFormat("%.1f %s", units / med, unit).c_str(),
                flops > 0 ? absl::StrFormat("%.1f", flops / med / 1e9).c_str() : "", load);
  };
  row("image: JPEG decode 1600x900", t_decode, 1, "img/s", 1, 0, load_image);
  row("image: resize 224x224 + normalize", t_resize, 1, "img/s", 1, 0, load_image);
  row("image: decode+resize+normalize per camera", t_process, 1, "img/s", 1, 0, load_image);
  row("vision tower + projector, 1 image", t_vis1, 1, "img/s", 1, vis_flops1, load_vision);
  row(absl::StrFormat("vision tower + projector, %d images", cameras), t_visn, 1, "img/s",
      cameras, vis_flopsn, load_vision);
  row(absl::StrFormat("  per image (batch of %d)", cameras), t_visn, 1.0 / cameras, "", 0,
      vis_flops1, load_vision);
  row(absl::StrFormat("prefill, %lld tokens", (long long)prompt_len), t_prefill, 1, "tok/s",
      static_cast<double>(prompt_len), prefill_flops, load_prefill);
  row("decode step (batch 1, greedy)", t_step, 1, "tok/s", 1, decode_flops, load_decode);
  const double e2e = cameras * img_total + visn + prefill + steps * step;
  std::printf("%-44s %9.3f ms   (6 x image + vision batch + prefill + %lld steps, medians)\n",
              absl::StrFormat("end to end, %d cameras", cameras).c_str(), e2e * 1e3,
              (long long)steps);
  std::printf("\nDecode memory traffic per step: %.1f MB decoder weights (F32, tied embedding "
              "once) + %.2f MB KV cache = %.1f MB\n",
              weight_bytes / 1e6, kv_bytes / 1e6, step_bytes / 1e6);
  std::printf("  achieved %.2f GB/s (median step) = %.0f%% of the measured read bandwidth %.2f "
              "GB/s\n  (the higher of %.2f GB/s before and %.2f GB/s after the decode runs: a "
              "%lld MiB sum on %d threads, best of 5; other load %.2f CPUs)\n",
              decode_bw / 1e9, 100 * decode_bw / machine_bw, machine_bw / 1e9,
              machine_bw_before / 1e9, machine_bw_after / 1e9,
              (long long)absl::GetFlag(FLAGS_bandwidth_mib), threads, load_bw);
  std::printf("Prefill compute: %.1f GFLOP/s = %.0f%% of sgemm at its MLP shapes (%.1f GFLOP/s "
              "[%lldx%lld]x[%lldx%lld]^T, %.1f GFLOP/s [%lldx%lld]x[%lldx%lld]^T, best of 3, "
              "other load %.2f CPUs)\n",
              prefill_flops / prefill / 1e9, 100 * prefill_flops / prefill / sgemm_peak,
              sgemm_up / 1e9, (long long)prompt_len, (long long)tc.hidden_size,
              (long long)tc.intermediate_size, (long long)tc.hidden_size, sgemm_down / 1e9,
              (long long)prompt_len, (long long)tc.intermediate_size, (long long)tc.hidden_size,
              (long long)tc.intermediate_size, load_sgemm);
  const double linear_s = (prefill_flops - attn_flops) / sgemm_peak;
  const double attn_s = attn_layer_s * tc.num_hidden_layers;
  std::printf("  prefill split (estimate): linear layers %.1f GFLOP at that sgemm rate %.2f s; "
              "attention %.1f GFLOP = %lld x one layer's Attention() %.2f s (%.1f GFLOP/s); "
              "the rest (norms, RoPE, GELU, copies) %.2f s\n",
              (prefill_flops - attn_flops) / 1e9, linear_s, attn_flops / 1e9,
              (long long)tc.num_hidden_layers, attn_s, attn_flops / attn_s / 1e9,
              prefill - linear_s - attn_s);
  std::printf("Vision compute (batch of %d): %.0f%% of that sgemm rate\n", cameras,
              100 * vis_flopsn / visn / sgemm_peak);
  std::string first;
  for (size_t i = 0; i < generated.size() && i < 16; ++i) {
    absl::StrAppend(&first, i ? " " : "", generated[i]);
  }
  std::printf("First greedy ids: %s\n", first.c_str());

  auto ms = [](std::vector<double> v) {
    for (double& x : v) x *= 1e3;
    return v;
  };
  js["inputs"] = {{"cameras", cameras},
                  {"image", image_source},
                  {"jpeg_bytes", jpeg.size()},
                  {"prompt_tokens", prompt_len},
                  {"text_tokens", text_tokens},
                  {"decode_tokens", n_decode}};
  js["image"] = {{"decode_ms", img_decode * 1e3},
                 {"resize_normalize_ms", img_resize * 1e3},
                 {"total_per_camera_ms", img_total * 1e3},
                 {"total_per_camera_min_ms", Min(t_process) * 1e3},
                 {"other_cpus", load_image},
                 {"repeats", absl::GetFlag(FLAGS_image_repeats)}};
  js["vision"] = {{"one_image_ms", vis1 * 1e3},
                  {"batch_ms", visn * 1e3},
                  {"per_image_in_batch_ms", visn / cameras * 1e3},
                  {"gflops_one_image", vis_flops1 / vis1 / 1e9},
                  {"gflops_batch", vis_flopsn / visn / 1e9},
                  {"flops_per_image", vis_flops1},
                  {"one_image_min_ms", Min(t_vis1) * 1e3},
                  {"batch_min_ms", Min(t_visn) * 1e3},
                  {"other_cpus", load_vision}};
  js["prefill"] = {{"ms", prefill * 1e3},
                   {"tokens_per_s", prompt_len / prefill},
                   {"gflops", prefill_flops / prefill / 1e9},
                   {"flops", prefill_flops},
                   {"min_ms", Min(t_prefill) * 1e3},
                   {"all_ms", ms(t_prefill)},
                   {"other_cpus", load_prefill}};
  js["decode"] = {{"step_ms", step * 1e3},
                  {"tokens_per_s", 1 / step},
                  {"gflops", decode_flops / step / 1e9},
                  {"bytes_per_step", step_bytes},
                  {"weight_bytes", weight_bytes},
                  {"kv_bytes", kv_bytes},
                  {"bandwidth_gbs", decode_bw / 1e9},
                  {"bandwidth_share", decode_bw / machine_bw},
                  {"step_min_ms", Min(t_step) * 1e3},
                  {"first_ids", generated},
                  {"other_cpus", load_decode}};
  js["reference"] = {{"read_bandwidth_gbs", machine_bw / 1e9},
                     {"read_bandwidth_before_gbs", machine_bw_before / 1e9},
                     {"read_bandwidth_after_gbs", machine_bw_after / 1e9},
                     {"sgemm_mlp_up_gflops", sgemm_up / 1e9},
                     {"sgemm_mlp_down_gflops", sgemm_down / 1e9},
                     {"prefill_share_of_sgemm", prefill_flops / prefill / sgemm_peak},
                     {"bandwidth_other_cpus", load_bw},
                     {"sgemm_other_cpus", load_sgemm},
                     {"prefill_attention_layer_ms", attn_layer_s * 1e3},
                     {"prefill_attention_flops", attn_flops},
                     {"prefill_linear_est_ms", linear_s * 1e3},
                     {"prefill_attention_est_ms", attn_s * 1e3}};
  js["end_to_end_ms"] = e2e * 1e3;
  if (!absl::GetFlag(FLAGS_json).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_json));
    out << js.dump(2) << "\n";
    if (!out) {
      return Fail(absl::InternalError(
          absl::StrCat("--json ", absl::GetFlag(FLAGS_json), ": cannot write")));
    }
  }
  return 0;
}

}  // namespace
}  // namespace drivelm::engine

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Phase benchmark of the CPU engine on a generated ~100M-parameter PaliGemma: "
      "engine_bench [--threads 2] [--json FILE] [--image a.jpg]");
  absl::ParseCommandLine(argc, argv);
  return drivelm::engine::Run();
}
