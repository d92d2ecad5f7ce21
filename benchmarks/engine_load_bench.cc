// Load benchmark of the continuous-batching engine (engine/engine.h), in process, no gRPC:
// closed-loop clients keep C scenes in flight (C in --concurrency), each scene six synthetic
// camera JPEGs and 20 distinct questions, greedy, --max_new_tokens tokens. A generated
// PaliGemma-architecture model (random weights, tools/tiny_model_spec.h) on the CPU backend.
//
//   bazel run -c opt //benchmarks:engine_load_bench -- [--threads 2] [--json FILE] [--quick]
//
// Variants (each point on a fresh engine, so no cache carries over between points):
//   default          image_prefix: exact, vision cache on
//   no_vision_cache  EngineOptions.vision_cache_bytes = 0
//   shared           image_prefix: shared (a profile YAML with that key, via profile_path)
// Every variant runs the same scenes: one in --repeat_every reuses the images of an earlier scene
// (with its own questions, so only the vision cache, not the exact-mode prefix cache, can reuse
// work), which is what separates default from no_vision_cache.
//
// Scenes per point: max(--min_scenes, --scenes_per_client x C), the same for every variant; with
// the defaults (8, 1) clients run several scenes each below C = 8 and one scene each from C = 8
// (a burst of C scenes; beyond max_active_requests they queue in the engine).
//
// Per point: questions/s and scenes/s over the point's wall time (first submit to last answer),
// TTFT p50/p99 (QuestionUsage::ttft_s: Submit() to the question's first token), end-to-end per
// scene p50/p99 (Submit() to the stream's end, measured by the client), tokens and sequences per
// forward pass (EngineStats step_tokens / step_sequences over steps), preemptions, and the
// scheduler overhead: the engine thread's busy time outside forward passes and admission (image
// decode + vision encode), as a share of its busy time outside admission:
//   overhead = (busy_s - admit_s - model_s) / (busy_s - admit_s).
// FLOPs come from the engine's own accounting (QuestionUsage::flops, EngineStats::flops_saved_*).
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
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "benchmarks/bench_model_dir.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "engine/model/weight_store.h"
#include "nlohmann/json.hpp"
#include "tools/tiny_model_spec.h"

ABSL_FLAG(int32_t, threads, 2, "CPU threads for the backend (and OpenBLAS)");
ABSL_FLAG(std::string, json, "", "also write the results as JSON to this file");
ABSL_FLAG(bool, quick, false,
          "CI-sized run: concurrency 1,4,16, 4 questions per scene, fewer scenes");
ABSL_FLAG(std::string, concurrency, "1,2,4,8,16,32,64", "client counts (scenes in flight)");
ABSL_FLAG(std::string, variants, "default,no_vision_cache,shared", "variants to run");
ABSL_FLAG(int32_t, scenes_per_client, 1,
          "scenes per point = max(--min_scenes, scenes_per_client * C), fixed per point");
ABSL_FLAG(int32_t, min_scenes, 8, "see --scenes_per_client");
ABSL_FLAG(int32_t, questions, 20, "questions per scene (distinct texts)");
ABSL_FLAG(int32_t, max_new_tokens, 16, "greedy tokens per answer (fewer if EOS comes first)");
ABSL_FLAG(int32_t, repeat_every, 4,
          "every n-th scene reuses an earlier scene's images (0: never)");
ABSL_FLAG(int32_t, image_width, 800, "camera JPEG width (synthetic)");
ABSL_FLAG(int32_t, image_height, 450, "camera JPEG height (synthetic)");
ABSL_FLAG(int64_t, kv_cache_mib, 256, "EngineOptions.kv_cache_bytes, MiB");
ABSL_FLAG(int64_t, max_batched_tokens, 2048, "SchedulerConfig.max_batched_tokens");
ABSL_FLAG(int32_t, max_running, 64, "SchedulerConfig.max_running");
ABSL_FLAG(int32_t, max_active_requests, 32, "EngineOptions.max_active_requests");
ABSL_FLAG(std::string, model_out, "", "write the generated checkpoint here and keep it");
ABSL_FLAG(uint64_t, seed, 1, "weights seed");
// Model sizes (1.2M parameters): one scene (6 x 64 image tokens, 20 questions) in about half a
// second on 2 cores, so that the whole default run stays under 3 minutes.
ABSL_FLAG(int64_t, image_size, 112, "model image size (patch 14)");
ABSL_FLAG(int64_t, vision_hidden, 128, "SigLIP hidden size");
ABSL_FLAG(int64_t, vision_intermediate, 512, "SigLIP MLP size");
ABSL_FLAG(int64_t, vision_layers, 2, "SigLIP layers");
ABSL_FLAG(int64_t, vision_heads, 4, "SigLIP heads");
ABSL_FLAG(int64_t, hidden, 128, "decoder hidden size");
ABSL_FLAG(int64_t, intermediate, 512, "decoder MLP size");
ABSL_FLAG(int64_t, layers, 2, "decoder layers");
ABSL_FLAG(int64_t, heads, 4, "decoder attention heads");
ABSL_FLAG(int64_t, kv_heads, 1, "decoder key/value heads");
ABSL_FLAG(int64_t, head_dim, 32, "decoder head dimension");

namespace drivelm::engine {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Nearest-rank percentile (p in [0, 100]) of `v`; 0 for an empty vector.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

const char* const kCameras[] = {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                                "CAM_BACK",  "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};

// A synthetic camera picture, different for every (image set, camera): sky gradient, road in
// perspective, a few colored boxes, sensor-like noise.
std::vector<uint8_t> CameraPixels(int set, int camera, int width, int height) {
  std::vector<uint8_t> px(static_cast<size_t>(width) * height * 3);
  uint64_t state = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(set * 8 + camera + 1);
  auto next = [&state]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  };
  struct Box {
    int x0, y0, x1, y1, r, g, b;
  };
  std::vector<Box> boxes;
  for (int i = 0; i < 5; ++i) {
    const int w = width / 12 + static_cast<int>(next() % (width / 6));
    const int h = height / 12 + static_cast<int>(next() % (height / 5));
    const int x = static_cast<int>(next() % (width - w));
    const int y = height / 3 + static_cast<int>(next() % (height * 2 / 3 - h));
    boxes.push_back({x, y, x + w, y + h, static_cast<int>(next() % 256),
                     static_cast<int>(next() % 256), static_cast<int>(next() % 256)});
  }
  const int horizon = height * (35 + static_cast<int>(next() % 20)) / 100;
  const int tint = static_cast<int>(next() % 60);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int noise = static_cast<int>(next() >> 29) - 4;
      int r, g, b;
      if (y < horizon) {
        const int t = y * 255 / std::max(horizon, 1);
        r = 100 + t / 3 + tint / 2, g = 140 + t / 4, b = 215 - t / 8;
      } else {
        const double depth = static_cast<double>(y - horizon) / (height - horizon);
        const double half = 20 + depth * width * 0.55;
        if (std::abs(x - width / 2.0) < half) {
          r = g = b = 80 + static_cast<int>(40 * depth) + tint / 3;
        } else {
          r = 60 + tint, g = 110 + static_cast<int>(40 * depth), b = 50;
        }
      }
      for (const Box& box : boxes) {
        if (x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1) r = box.r, g = box.g, b = box.b;
      }
      uint8_t* p = &px[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(std::clamp(r + noise, 0, 255));
      p[1] = static_cast<uint8_t>(std::clamp(g + noise, 0, 255));
      p[2] = static_cast<uint8_t>(std::clamp(b + noise, 0, 255));
    }
  }
  return px;
}

absl::StatusOr<std::string> EncodeJpeg(const std::vector<uint8_t>& px, int width, int height) {
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) return absl::InternalError("tjInitCompress failed");
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(handle, px.data(), width, 0, height, TJPF_RGB, &buffer, &size,
                             TJSAMP_420, 90, TJFLAG_ACCURATEDCT);
  std::string out;
  if (rc == 0) out.assign(reinterpret_cast<const char*>(buffer), size);
  const std::string error = rc == 0 ? "" : tjGetErrorStr2(handle);
  tjFree(buffer);
  tjDestroy(handle);
  if (rc != 0) return absl::InternalError(absl::StrCat("tjCompress2: ", error));
  return out;
}

// Twenty DriveLM-style question stems; a scene's questions add the scene number, so that no two
// scenes share a prompt (exact mode's prefix cache then reuses nothing across scenes).
const char* const kStems[] = {
    "What are the important objects in the current scene?",
    "What is the moving status of the car in front?",
    "What actions could the ego vehicle take?",
    "Is there a pedestrian near the crosswalk?",
    "Which lane should the ego vehicle use?",
    "What is the traffic signal and what does it mean?",
    "Would the ego vehicle collide with the truck on the left?",
    "What is the future state of the cyclist?",
    "In this scenario, what are safe actions to take for the ego vehicle?",
    "What object should the ego vehicle notice first when driving?",
    "What is the probability of colliding with the bus after braking?",
    "Are there any parked cars on the right side of the road?",
    "What are the objects to the back of the ego car?",
    "Is the road ahead clear for the next ten meters?",
    "What is the visual description of the object in front?",
    "Predict the behavior of the ego vehicle.",
    "What is the status of the barrier in the back left?",
    "Should the ego vehicle yield to the oncoming traffic?",
    "Which objects are most relevant to the planned trajectory?",
    "How many vehicles are visible in the front camera?"};

struct Scenes {
  std::vector<std::vector<CameraImage>> sets;  // image sets by id
  int questions = 0;
  int max_new_tokens = 0;
  int repeat_every = 0;

  // The image set of scene k: every repeat_every-th scene reuses the set of the scene
  // (repeat_every - 1) before it.
  int SetOf(int k) const {
    if (repeat_every > 0 && k % repeat_every == repeat_every - 1) return k - (repeat_every - 1);
    return k;
  }
  SceneRequest Request(int k, int set) const {
    SceneRequest r;
    r.request_id = absl::StrCat("r", k);
    r.scene_id = absl::StrCat("scene", k);
    r.images = sets[static_cast<size_t>(set)];
    for (int q = 0; q < questions; ++q) {
      r.questions.push_back({absl::StrCat("q", q),
                             absl::StrCat(kStems[q % 20], " (scene ", k, ", ", q, ")"),
                             QuestionStage::kPerception,
                             {}});
    }
    r.sampling = SamplingParams{};  // greedy
    r.max_new_tokens = max_new_tokens;
    return r;
  }
};

absl::Status MakeImageSets(int count, int width, int height, Scenes* scenes) {
  scenes->sets.resize(static_cast<size_t>(count));
  std::vector<std::thread> workers;
  std::vector<absl::Status> status(static_cast<size_t>(count));
  const int n_threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<int> next{0};
  for (int t = 0; t < n_threads; ++t) {
    workers.emplace_back([&] {
      for (int set = next++; set < count; set = next++) {
        for (int c = 0; c < 6; ++c) {
          absl::StatusOr<std::string> jpeg =
              EncodeJpeg(CameraPixels(set, c, width, height), width, height);
          if (!jpeg.ok()) {
            status[static_cast<size_t>(set)] = jpeg.status();
            break;
          }
          scenes->sets[static_cast<size_t>(set)].push_back({kCameras[c], std::move(*jpeg)});
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  for (const absl::Status& s : status) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

struct SceneResult {
  double e2e_s = 0;
  std::vector<double> ttft_s;
  int64_t generated_tokens = 0;
  int64_t prompt_tokens = 0;
  double prefill_flops = 0;
  double decode_flops = 0;
  double vision_flops = 0;  // the scene's encode (once, not per question)
  double image_decode_s = 0;  // the scene's JPEG decode + resize (done even on a cache hit)
  double vision_s = 0;        // the scene's vision encode (images not in the vision cache)
  int answered = 0;         // kDone with OK status
  absl::Status status;
};

SceneResult RunScene(Engine& engine, SceneRequest request) {
  SceneResult r;
  const int n = static_cast<int>(request.questions.size());
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<std::shared_ptr<RequestStream>> stream = engine.Submit(std::move(request));
  if (!stream.ok()) {
    r.status = stream.status();
    return r;
  }
  AnswerEvent e;
  bool timed_out = false;
  while ((*stream)->Next(&e, absl::Seconds(300), &timed_out)) {
    if (e.kind != AnswerEvent::Kind::kDone) continue;
    if (!e.status.ok()) {
      r.status = e.status;
      continue;
    }
    ++r.answered;
    r.ttft_s.push_back(e.usage.ttft_s);
    r.generated_tokens += e.usage.generated_tokens;
    r.prompt_tokens += e.usage.prompt_tokens;
    r.prefill_flops += e.usage.flops.prefill;
    r.decode_flops += e.usage.flops.decode;
    r.vision_flops = e.usage.flops.vision;
    r.image_decode_s = e.usage.image_decode_s;
    r.vision_s = e.usage.vision_s;
  }
  r.e2e_s = Since(t0);
  if (timed_out) r.status = absl::DeadlineExceededError("no event for 300 s");
  if (r.status.ok() && !(*stream)->final_status().ok()) r.status = (*stream)->final_status();
  if (r.status.ok() && r.answered != n) {
    r.status = absl::InternalError(absl::StrCat(r.answered, " of ", n, " questions answered"));
  }
  return r;
}

// CPU seconds used by the whole machine (/proc/stat, all CPUs) and by this process, so that each
// point can say how much of the machine other processes took while it ran (the benchmark is
// meant for an otherwise idle machine; a busy one shows up in the "other%" column).
struct CpuSample {
  double machine_s = -1;  // -1: /proc/stat unreadable
  double self_s = 0;
};

CpuSample SampleCpu() {
  CpuSample c;
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
      cpu == "cpu") {
    const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    c.machine_s = static_cast<double>(user + nice + system + irq + softirq + steal) / hz;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  c.self_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
             ru.ru_stime.tv_usec * 1e-6;
  return c;
}

// Share of the machine's CPU capacity (all CPUs over `wall` seconds) that other processes used
// between two samples; -1 when unknown.
double OtherShare(const CpuSample& a, const CpuSample& b, double wall) {
  if (a.machine_s < 0 || b.machine_s < 0 || wall <= 0) return -1;
  const double cpus = static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  const double others = (b.machine_s - a.machine_s) - (b.self_s - a.self_s);
  return std::max(0.0, others) / (cpus * wall);
}

// Waits until the engine thread has published the stats of its last iteration (it sets
// running = 0 once every request is over).
EngineStats SettledStats(const Engine& engine) {
  for (int i = 0; i < 10000; ++i) {
    EngineStats s = engine.stats();
    if (s.running == 0 && s.waiting == 0 && s.running_sequences == 0 &&
        s.waiting_sequences == 0) {
      return s;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return engine.stats();
}

struct Variant {
  std::string name;
  bool vision_cache = true;
  bool shared = false;
};

struct Point {
  std::string variant;
  int concurrency = 0;
  int scenes = 0;
  int questions = 0;
  double wall_s = 0;
  double questions_per_s = 0, scenes_per_s = 0;
  double ttft_p50 = 0, ttft_p99 = 0, e2e_p50 = 0, e2e_p99 = 0;
  double tokens_per_step = 0, seqs_per_step = 0;
  int64_t steps = 0, preemptions = 0;
  double overhead = 0;     // (busy - admit - model) / (busy - admit)
  double admit_share = 0;  // admit / busy
  double step_ms = 0;      // (busy - admit) / steps
  int64_t vision_queries = 0, vision_hits = 0, prefix_queries = 0, prefix_hits = 0;
  double admit_s = 0, model_s = 0, busy_s = 0;
  double prefill_flops_per_q = 0, decode_flops_per_q = 0, vision_flops_per_scene = 0;
  double flops_saved_vision = 0, flops_saved_prefix = 0;
  double generated_per_q = 0, prompt_per_q = 0;
  double image_decode_s_per_scene = 0, vision_s_per_scene = 0;
  double other_cpu_share = -1;  // of the machine, used by other processes during the point
};

absl::StatusOr<Point> RunPoint(const std::string& model_dir, const Variant& variant,
                               const std::string& shared_profile, int concurrency, int scenes,
                               const Scenes& data, CpuBackend* backend) {
  EngineOptions options;
  options.generator.profile_path = variant.shared ? shared_profile : "";
  options.scheduler.max_batched_tokens = absl::GetFlag(FLAGS_max_batched_tokens);
  options.scheduler.max_running = absl::GetFlag(FLAGS_max_running);
  options.max_active_requests = absl::GetFlag(FLAGS_max_active_requests);
  options.max_queued_requests = std::max(64, concurrency);
  options.kv_cache_bytes = absl::GetFlag(FLAGS_kv_cache_mib) << 20;
  options.vision_cache_bytes = variant.vision_cache ? options.vision_cache_bytes : 0;
  absl::StatusOr<std::unique_ptr<Generator>> generator =
      Generator::Load(model_dir, backend, options.generator);
  if (!generator.ok()) return generator.status();
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(std::move(*generator), options);
  if (!engine.ok()) return engine.status();

  // Warm-up (buffers, thread pool): one scene with images no measured scene uses.
  {
    SceneRequest warm = data.Request(-1, static_cast<int>(data.sets.size()) - 1);
    SceneResult w = RunScene(**engine, std::move(warm));
    if (!w.status.ok()) return w.status;
  }
  const EngineStats before = SettledStats(**engine);

  std::vector<SceneResult> results(static_cast<size_t>(scenes));
  std::atomic<int> next{0};
  const CpuSample cpu0 = SampleCpu();
  const Clock::time_point t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&] {
      for (int k = next++; k < scenes; k = next++) {
        results[static_cast<size_t>(k)] = RunScene(**engine, data.Request(k, data.SetOf(k)));
      }
    });
  }
  for (std::thread& t : clients) t.join();
  const double wall = Since(t0);
  const CpuSample cpu1 = SampleCpu();
  const EngineStats after = SettledStats(**engine);
  (*engine)->Shutdown(absl::Seconds(10));

  Point p;
  p.variant = variant.name;
  p.concurrency = concurrency;
  p.scenes = scenes;
  p.wall_s = wall;
  p.other_cpu_share = OtherShare(cpu0, cpu1, wall);
  std::vector<double> ttft, e2e;
  double prefill = 0, decode = 0, vision = 0, image_decode_s = 0, vision_s = 0;
  int64_t generated = 0, prompt = 0;
  for (const SceneResult& r : results) {
    if (!r.status.ok()) return r.status;
    p.questions += r.answered;
    ttft.insert(ttft.end(), r.ttft_s.begin(), r.ttft_s.end());
    e2e.push_back(r.e2e_s);
    prefill += r.prefill_flops;
    decode += r.decode_flops;
    vision += r.vision_flops;
    image_decode_s += r.image_decode_s;
    vision_s += r.vision_s;
    generated += r.generated_tokens;
    prompt += r.prompt_tokens;
  }
  p.questions_per_s = p.questions / wall;
  p.scenes_per_s = scenes / wall;
  p.ttft_p50 = Percentile(ttft, 50);
  p.ttft_p99 = Percentile(ttft, 99);
  p.e2e_p50 = Percentile(e2e, 50);
  p.e2e_p99 = Percentile(e2e, 99);
  p.steps = after.steps - before.steps;
  const double steps = std::max<int64_t>(p.steps, 1);
  p.tokens_per_step = (after.step_tokens - before.step_tokens) / steps;
  p.seqs_per_step = (after.step_sequences - before.step_sequences) / steps;
  p.preemptions = after.num_preemptions - before.num_preemptions;
  p.busy_s = after.busy_s - before.busy_s;
  p.admit_s = after.admit_s - before.admit_s;
  p.model_s = after.model_s - before.model_s;
  const double stepping = p.busy_s - p.admit_s;
  p.overhead = stepping > 0 ? (stepping - p.model_s) / stepping : 0;
  p.admit_share = p.busy_s > 0 ? p.admit_s / p.busy_s : 0;
  p.step_ms = 1e3 * stepping / steps;
  p.vision_queries = after.vision_cache_queries - before.vision_cache_queries;
  p.vision_hits = after.vision_cache_hits - before.vision_cache_hits;
  p.prefix_queries = after.prefix_cache_queries - before.prefix_cache_queries;
  p.prefix_hits = after.prefix_cache_hits - before.prefix_cache_hits;
  p.flops_saved_vision = after.flops_saved_vision - before.flops_saved_vision;
  p.flops_saved_prefix = after.flops_saved_prefix - before.flops_saved_prefix;
  const double nq = std::max(p.questions, 1);
  p.prefill_flops_per_q = prefill / nq;
  p.decode_flops_per_q = decode / nq;
  // Every question of a scene carries the scene's vision FLOPs; RunScene kept one copy.
  p.vision_flops_per_scene = vision / scenes;
  p.generated_per_q = generated / nq;
  p.image_decode_s_per_scene = image_decode_s / scenes;
  p.vision_s_per_scene = vision_s / scenes;
  p.prompt_per_q = prompt / nq;
  return p;
}

absl::StatusOr<int64_t> CountParams(const std::string& dir, int64_t* vision) {
  absl::StatusOr<std::unique_ptr<WeightStore>> store = WeightStore::Open(dir);
  if (!store.ok()) return store.status();
  int64_t total = 0;
  *vision = 0;
  for (const std::string& name : (*store)->Names()) {
    const int64_t n = NumElements((*store)->Find(name)->shape);
    total += n;
    if (absl::StartsWith(name, "vision_tower.") ||
        absl::StartsWith(name, "multi_modal_projector.")) {
      *vision += n;
    }
  }
  return total;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "engine_load_bench: %s\n", s.ToString().c_str());
  return 1;
}

nlohmann::json ToJson(const Point& p) {
  return {{"variant", p.variant},
          {"concurrency", p.concurrency},
          {"scenes", p.scenes},
          {"questions", p.questions},
          {"wall_s", p.wall_s},
          {"questions_per_s", p.questions_per_s},
          {"scenes_per_s", p.scenes_per_s},
          {"ttft_p50_s", p.ttft_p50},
          {"ttft_p99_s", p.ttft_p99},
          {"e2e_scene_p50_s", p.e2e_p50},
          {"e2e_scene_p99_s", p.e2e_p99},
          {"steps", p.steps},
          {"tokens_per_step", p.tokens_per_step},
          {"sequences_per_step", p.seqs_per_step},
          {"preemptions", p.preemptions},
          {"busy_s", p.busy_s},
          {"admit_s", p.admit_s},
          {"model_s", p.model_s},
          {"step_ms", p.step_ms},
          {"scheduler_overhead_ratio", p.overhead},
          {"admit_share_of_busy", p.admit_share},
          {"vision_cache_queries", p.vision_queries},
          {"vision_cache_hits", p.vision_hits},
          {"prefix_cache_queries", p.prefix_queries},
          {"prefix_cache_hits", p.prefix_hits},
          {"prefill_flops_per_question", p.prefill_flops_per_q},
          {"decode_flops_per_question", p.decode_flops_per_q},
          {"vision_flops_per_scene", p.vision_flops_per_scene},
          {"image_decode_s_per_scene", p.image_decode_s_per_scene},
          {"vision_s_per_scene", p.vision_s_per_scene},
          {"flops_saved_vision", p.flops_saved_vision},
          {"flops_saved_prefix", p.flops_saved_prefix},
          {"prompt_tokens_per_question", p.prompt_per_q},
          {"generated_tokens_per_question", p.generated_per_q},
          {"other_processes_cpu_share", p.other_cpu_share}};
}

int Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  const int threads = absl::GetFlag(FLAGS_threads);
  std::vector<int> concurrency;
  for (absl::string_view c : absl::StrSplit(
           quick ? std::string("1,4,16") : absl::GetFlag(FLAGS_concurrency), ',',
           absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(c, &v) || v < 1) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--concurrency: bad value '", c, "'")));
    }
    concurrency.push_back(v);
  }
  std::vector<Variant> variants;
  for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_variants), ',', absl::SkipEmpty())) {
    if (v == "default") {
      variants.push_back({"default", true, false});
    } else if (v == "no_vision_cache") {
      variants.push_back({"no_vision_cache", false, false});
    } else if (v == "shared") {
      variants.push_back({"shared", true, true});
    } else {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--variants: unknown '", v, "' (default, no_vision_cache, shared)")));
    }
  }
  Scenes data;
  data.questions = quick ? 4 : absl::GetFlag(FLAGS_questions);
  data.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  data.repeat_every = absl::GetFlag(FLAGS_repeat_every);
  const int per_client = quick ? 1 : absl::GetFlag(FLAGS_scenes_per_client);
  const int min_scenes = quick ? 4 : absl::GetFlag(FLAGS_min_scenes);
  if (threads < 1 || concurrency.empty() || variants.empty() || data.questions < 1 ||
      data.questions > 64 || data.max_new_tokens < 1 || data.repeat_every < 0 ||
      per_client < 1 || min_scenes < 1) {
    return Fail(absl::InvalidArgumentError(
        "--threads, --concurrency, --variants, --scenes_per_client, --min_scenes and "
        "--max_new_tokens must be >= 1; --questions in [1, 64]; --repeat_every >= 0"));
  }
  auto scenes_for = [&](int c) { return std::max(min_scenes, per_client * c); };
  int max_scenes = 0;
  for (int c : concurrency) max_scenes = std::max(max_scenes, scenes_for(c));

  // ---- Model ----
  tools::TinyModelSpec spec;
  spec.seed = absl::GetFlag(FLAGS_seed);
  spec.image_size = absl::GetFlag(FLAGS_image_size);
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
      benchmarks::BenchModelDir::Create(absl::GetFlag(FLAGS_model_out), "engine_load_bench");
  if (!model_dir.ok()) return Fail(model_dir.status());
  const std::string& dir = (*model_dir)->path();
  const bool keep = (*model_dir)->kept();
  Clock::time_point t0 = Clock::now();
  if (absl::Status s = tools::WriteTinyModel(spec, dir); !s.ok()) return Fail(s);
  const double write_s = Since(t0);
  int64_t vision_params = 0;
  absl::StatusOr<int64_t> params = CountParams(dir, &vision_params);
  if (!params.ok()) return Fail(params.status());

  // The shared-prefix profile: the generated one with image_prefix switched.
  const std::string shared_profile = dir + "/drivelm_profile_shared.yaml";
  {
    std::ifstream in(dir + "/drivelm_profile.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (!absl::StrContains(text, "image_prefix: exact")) {
      return Fail(absl::InternalError("generated profile has no 'image_prefix: exact' line"));
    }
    std::ofstream out(shared_profile);
    out << absl::StrReplaceAll(text, {{"image_prefix: exact", "image_prefix: shared"}});
    if (!out) return Fail(absl::InternalError(absl::StrCat(shared_profile, ": cannot write")));
  }

  // ---- Scenes: image sets 0..max_scenes-1, plus one for the warm-up ----
  t0 = Clock::now();
  const int width = absl::GetFlag(FLAGS_image_width), height = absl::GetFlag(FLAGS_image_height);
  if (width < 64 || height < 64) {
    return Fail(absl::InvalidArgumentError("--image_width/--image_height must be >= 64"));
  }
  if (absl::Status s = MakeImageSets(max_scenes + 1, width, height, &data); !s.ok()) return Fail(s);
  const double images_s = Since(t0);

  CpuBackend backend(threads);
  const ModelConfig config = tools::ConfigForSpec(spec);
  std::printf(
      "engine_load_bench: CPU backend, %d threads; model written in %.1f s, %d image sets "
      "(%dx%d JPEG q90) in %.1f s\n",
      threads, write_s, max_scenes + 1, width, height, images_s);
  std::printf(
      "model: %.2fM parameters (vision tower + projector %.2fM): SigLIP %lld/%lld/%lld layers, "
      "image %lld -> %lld tokens; Gemma %lld hidden / %lld MLP / %lld layers / %lld heads / "
      "%lld kv / head_dim %lld, vocab %lld\n",
      *params / 1e6, vision_params / 1e6, (long long)spec.vision_hidden,
      (long long)spec.vision_intermediate, (long long)spec.vision_layers,
      (long long)spec.image_size, (long long)config.image_tokens_per_image(),
      (long long)spec.hidden, (long long)spec.intermediate, (long long)spec.layers,
      (long long)spec.heads, (long long)spec.kv_heads, (long long)spec.head_dim,
      (long long)config.text.vocab_size);
  std::printf(
      "load: %d questions/scene, 6 cameras, greedy, max_new_tokens %d, one scene in %d reuses "
      "earlier images; scenes per point max(%d, %d x C); max_batched_tokens %lld, max_running "
      "%d, max_active_requests %d, kv cache %lld MiB\n\n",
      data.questions, data.max_new_tokens, data.repeat_every, min_scenes, per_client,
      (long long)absl::GetFlag(FLAGS_max_batched_tokens), absl::GetFlag(FLAGS_max_running),
      absl::GetFlag(FLAGS_max_active_requests), (long long)absl::GetFlag(FLAGS_kv_cache_mib));

  nlohmann::json js;
  js["threads"] = threads;
  js["model"] = {{"params", *params},
                 {"params_vision", vision_params},
                 {"image_size", spec.image_size},
                 {"image_tokens_per_image", config.image_tokens_per_image()},
                 {"vision_hidden", spec.vision_hidden},
                 {"vision_layers", spec.vision_layers},
                 {"hidden", spec.hidden},
                 {"intermediate", spec.intermediate},
                 {"layers", spec.layers},
                 {"heads", spec.heads},
                 {"kv_heads", spec.kv_heads},
                 {"head_dim", spec.head_dim},
                 {"vocab", config.text.vocab_size}};
  js["load"] = {{"questions_per_scene", data.questions},
                {"max_new_tokens", data.max_new_tokens},
                {"repeat_every", data.repeat_every},
                {"image_width", width},
                {"image_height", height},
                {"scenes_per_client", per_client},
                {"min_scenes", min_scenes},
                {"max_batched_tokens", absl::GetFlag(FLAGS_max_batched_tokens)},
                {"max_running", absl::GetFlag(FLAGS_max_running)},
                {"max_active_requests", absl::GetFlag(FLAGS_max_active_requests)},
                {"kv_cache_mib", absl::GetFlag(FLAGS_kv_cache_mib)}};
  js["points"] = nlohmann::json::array();

  const Clock::time_point start = Clock::now();
  std::printf(
      "%-15s %3s %4s %7s %7s %8s %8s %8s %8s %6s %5s %5s %6s %7s %6s %7s %9s %6s\n", "variant",
      "C", "scn", "q/s", "scn/s", "ttft50", "ttft99", "e2e50", "e2e99", "tok/st", "seq/st",
      "preem", "st_ms", "ovhd%", "adm%", "vis_hit", "pfGF/q", "other%");
  std::vector<Point> points;
  for (const Variant& v : variants) {
    for (int c : concurrency) {
      absl::StatusOr<Point> p = RunPoint(dir, v, shared_profile, c, scenes_for(c), data, &backend);
      if (!p.ok()) return Fail(p.status());
      std::printf(
          "%-15s %3d %4d %7.1f %7.2f %7.3fs %7.3fs %7.3fs %7.3fs %6.1f %5.1f %5lld %6.2f %7.2f "
          "%6.1f %3lld/%-3lld %9.3f %6.0f\n",
          p->variant.c_str(), p->concurrency, p->scenes, p->questions_per_s, p->scenes_per_s,
          p->ttft_p50, p->ttft_p99, p->e2e_p50, p->e2e_p99, p->tokens_per_step,
          p->seqs_per_step, (long long)p->preemptions, p->step_ms, 100 * p->overhead,
          100 * p->admit_share, (long long)p->vision_hits, (long long)p->vision_queries,
          p->prefill_flops_per_q / 1e9, 100 * p->other_cpu_share);
      std::fflush(stdout);
      js["points"].push_back(ToJson(*p));
      points.push_back(*p);
    }
  }
  const double total_s = Since(start);

  // ---- Summaries ----
  std::printf("\ncolumns: ttft/e2e in seconds (p50, p99); tok/st, seq/st = tokens and sequences "
              "per forward pass; st_ms = engine-thread ms per step outside admission;\n"
              "ovhd%% = (busy - admit - model) / (busy - admit); adm%% = admission (image decode "
              "+ vision encode) share of engine-thread busy time; pfGF/q = prefill GFLOPs per "
              "question;\nother%% = share of the machine's CPU that other processes used "
              "during the point (noise: it should be ~0)\n");
  double worst = 0, sum_overhead = 0;
  for (const Point& p : points) {
    worst = std::max(worst, p.overhead);
    sum_overhead += p.overhead;
  }
  std::printf("scheduler overhead per step: mean %.2f%%, worst %.2f%% (target < 5%%)\n",
              100 * sum_overhead / points.size(), 100 * worst);
  // Shared vs exact at the same concurrency: prefill FLOPs per question and the total saved.
  for (const Point& s : points) {
    if (s.variant != "shared") continue;
    for (const Point& e : points) {
      if (e.variant != "default" || e.concurrency != s.concurrency) continue;
      std::printf(
          "C=%-3d shared vs exact: prefill %.3f vs %.3f GFLOPs/question (%.1f%% less), "
          "%.2f GFLOPs saved over %d questions; prefix cache hits %lld of %lld tokens; q/s "
          "%.1f vs %.1f\n      (EngineStats.flops_saved_prefix says %.0f G: it prices all hit "
          "tokens as one prompt, so its attention term grows with the square of the total)\n",
          s.concurrency, s.prefill_flops_per_q / 1e9, e.prefill_flops_per_q / 1e9,
          100 * (1 - s.prefill_flops_per_q / e.prefill_flops_per_q),
          (e.prefill_flops_per_q - s.prefill_flops_per_q) * s.questions / 1e9, s.questions,
          (long long)s.prefix_hits, (long long)s.prefix_queries, s.questions_per_s,
          e.questions_per_s, s.flops_saved_prefix / 1e9);
    }
  }
  for (const Point& n : points) {
    if (n.variant != "no_vision_cache") continue;
    for (const Point& e : points) {
      if (e.variant != "default" || e.concurrency != n.concurrency) continue;
      std::printf(
          "C=%-3d vision cache on vs off: %lld vs %lld hits of %lld images, %.2f GFLOPs of "
          "vision encode saved; per scene: vision encode %.1f vs %.1f ms, image decode %.1f vs "
          "%.1f ms; admission %.3f vs %.3f s; q/s %.1f vs %.1f\n",
          n.concurrency, (long long)e.vision_hits, (long long)n.vision_hits,
          (long long)e.vision_queries, e.flops_saved_vision / 1e9, 1e3 * e.vision_s_per_scene,
          1e3 * n.vision_s_per_scene, 1e3 * e.image_decode_s_per_scene,
          1e3 * n.image_decode_s_per_scene, e.admit_s, n.admit_s, e.questions_per_s,
          n.questions_per_s);
    }
  }
  std::printf("total benchmark time %.1f s\n", total_s);
  js["total_s"] = total_s;
  js["scheduler_overhead_mean"] = sum_overhead / points.size();
  js["scheduler_overhead_worst"] = worst;

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
      "Closed-loop load benchmark of the continuous-batching engine on a generated model.\n"
      "  bazel run -c opt //benchmarks:engine_load_bench -- [--threads 2] [--json FILE] "
      "[--quick]");
  absl::ParseCommandLine(argc, argv);
  return drivelm::engine::Run();
}
