// loadgen: a load generator for drivelm_server, after `vllm bench serve`.
//
//   loadgen --server 127.0.0.1:50051 --synthetic --request_rate 2 --num_requests 100
//       --result_json result.json [--max_concurrency 8] [--burstiness 1] [--warmup 2]
//       [--questions_per_scene 20] [--repeat_scenes] [--slo ttft=500,tpot=50,e2e=5000]
//   loadgen --server ADDR --data test_eval.json --images_root DIR --request_rate inf
//       --duration 60 --result_json r.json
//   loadgen ... --sweep 0.5,1,2,4,inf --result_json sweep.json   (also sweep.png)
//
// One request is one scene: a key frame's six camera images and its questions (a DriveLM
// frame's from --data, cycling through the file; or --synthetic: six distinct generated camera
// JPEGs and DriveLM-style questions per request, new content every request unless
// --repeat_scenes). --questions_per_scene K keeps the first K questions of a data frame or asks K
// synthetic ones (default: the frame's own; 20 synthetic, about a DriveLM key frame's count).
//
// Arrivals are open loop: gamma-distributed gaps with mean 1/rate (burstiness 1: Poisson), or all
// at once with --request_rate inf; --max_concurrency caps the requests in flight (a request that
// arrives at the cap waits for a slot, so inf + a cap is a closed loop of C clients). The run
// sends --num_requests requests, or keeps sending for --duration seconds; either way the
// duration measured is from the first send until the last request finished.
//
// Measured per question, from the client's receipt of the events (as a user sees them): TTFT
// (first text delta), ITL (gaps between deltas), TPOT ((E2E - TTFT) / (generated tokens - 1),
// tokens from usage.generated_tokens), E2E (the done event). The result JSON uses `vllm bench
// serve`'s key names (completed, failed, duration, request_throughput, request_goodput,
// output_throughput, total_token_throughput, mean/median/std/p90/p99 of ttft, tpot, itl, e2el
// in ms) plus questions_per_scene, question_throughput and the client's own cost.
//
// Client cost, so a result can be trusted as the server's: the process's CPU time per request
// during the run (getrusage; synthetic image generation is measured per thread and reported
// apart), the dispatch lag (how late requests went out against their schedule, beyond waiting
// for a concurrency slot) and the time the dispatcher waited for the scene generator. Synthetic
// scenes are generated before the clock starts (up to --prefetch, default 256, ahead) and not
// while a run is measured unless the dispatcher has run out of them, so the generator does not
// compete with a server on the same machine unless the result says so.
//
// --sweep R1,R2,... runs one point per rate (each --num_requests or --duration) and writes
// {"sweep": [point, ...]} to --result_json, plus a PNG (--plot, default: the result file's name
// with .png) of latency percentiles and throughput against offered load, drawn by gnuplot.
//
// Exit status: 0 done; 1 bad arguments; 2 the server is unreachable; 3 every request failed.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmarks/arrival_process.h"
#include "benchmarks/call_timing.h"
#include "benchmarks/load_stats.h"
#include "benchmarks/synthetic_scene.h"
#include "clients/answer_request.h"
#include "clients/answer_stream.h"
#include "clients/client_scene.h"
#include "clients/status_names.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "drivelm_server address host:port");
ABSL_FLAG(std::string, data, "", "DriveLM JSON whose key frames are the requests (cycled)");
ABSL_FLAG(std::string, images_root, "",
          "with --data: directory image_paths are relative to (default: the file's directory)");
ABSL_FLAG(bool, synthetic, false, "generated scenes instead of --data");
ABSL_FLAG(std::string, synthetic_size, "1600x900", "synthetic camera image size WIDTHxHEIGHT");
ABSL_FLAG(int32_t, synthetic_quality, 90, "synthetic JPEG quality");
ABSL_FLAG(std::string, request_rate, "inf", "scenes per second, or inf (all at once)");
ABSL_FLAG(double, burstiness, 1.0, "gamma shape of the arrival gaps (1: Poisson)");
ABSL_FLAG(int32_t, max_concurrency, 0, "requests in flight at most (0: no cap)");
ABSL_FLAG(int64_t, num_requests, 0, "requests to send (per sweep point)");
ABSL_FLAG(double, duration, 0, "or: send for this many seconds (per sweep point)");
ABSL_FLAG(int32_t, warmup, 0, "requests sent and discarded before measuring");
ABSL_FLAG(std::string, result_json, "", "where to write the result");
ABSL_FLAG(int32_t, questions_per_scene, 0,
          "questions per request (0: the frame's own; 20 for --synthetic)");
ABSL_FLAG(bool, repeat_scenes, false,
          "every synthetic request carries the same scene (cache-friendly)");
ABSL_FLAG(std::string, slo, "", "goodput SLOs in ms: ttft=MS,tpot=MS,e2e=MS (any subset)");
ABSL_FLAG(std::string, sweep, "", "comma-separated request rates to run in turn (inf allowed)");
ABSL_FLAG(std::string, plot, "", "with --sweep: the PNG to draw (default: RESULT.png)");
ABSL_FLAG(uint64_t, seed, 0, "seed of the arrival gaps and the synthetic scenes");
ABSL_FLAG(int32_t, max_new_tokens, 0, "tokens per answer at most (0: the model's default)");
ABSL_FLAG(bool, greedy, false, "greedy decoding (default: the model profile's sampling)");
ABSL_FLAG(double, deadline_s, 600, "deadline of one request in seconds (0: none)");
ABSL_FLAG(int32_t, prefetch, 256, "synthetic scenes generated ahead (before the clock starts)");
ABSL_FLAG(int32_t, generator_threads, 0, "synthetic scene generator threads (0: cores - 1)");
ABSL_FLAG(bool, save_detailed, false, "add per-question ttfts/e2els/output_lens arrays");
ABSL_FLAG(double, connect_timeout_s, 30, "how long to wait for the server at startup");

namespace {

namespace v1 = drivelm::v1;
using drivelm::benchmarks::RequestTiming;
using drivelm::clients::AnswerCallResult;
using drivelm::clients::AnswerStream;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitServer = 2;
constexpr int kExitAllFailed = 3;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "loadgen: %s\n", message.c_str());
  return code;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double ThreadCpuS() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double ProcessCpuS() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return tv(usage.ru_utime) + tv(usage.ru_stime);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string RateText(double rate) { return std::isinf(rate) ? "inf" : absl::StrFormat("%g", rate); }

using RequestPtr = std::shared_ptr<const v1::AnswerRequest>;

// Where requests come from. Take(i) is called by one thread with i = 0, 1, 2, ... in order.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  virtual absl::StatusOr<RequestPtr> Take(uint64_t index) = 0;
  // Blocks until what can be prepared ahead is ready (before a clock starts).
  virtual void WaitReady() {}
  // While measuring, prepare nothing ahead unless the next request is missing (the generator
  // then only runs when the dispatcher would wait for it anyway, which is reported).
  virtual void SetMeasuring(bool measuring) { (void)measuring; }
  // CPU seconds spent generating so far and scenes generated (synthetic only).
  virtual double generation_cpu_s() const { return 0; }
  virtual int64_t generated() const { return 0; }
};

// DriveLM key frames, read once, cycled.
class DataSource final : public RequestSource {
 public:
  static absl::StatusOr<std::unique_ptr<DataSource>> Load(
      const std::string& path, const std::string& root, int questions_per_scene,
      const drivelm::clients::RequestOptions& options) {
    absl::StatusOr<std::vector<drivelm::clients::ClientScene>> frames =
        drivelm::clients::LoadDriveLmFile(path, root);
    if (!frames.ok()) return frames.status();
    auto source = std::unique_ptr<DataSource>(new DataSource());
    for (drivelm::clients::ClientScene& frame : *frames) {
      if (questions_per_scene > 0 &&
          frame.questions.size() > static_cast<size_t>(questions_per_scene)) {
        frame.questions.resize(static_cast<size_t>(questions_per_scene));
      }
      absl::StatusOr<v1::AnswerRequest> request =
          drivelm::clients::BuildAnswerRequest(frame, options);
      if (!request.ok()) return request.status();
      source->requests_.push_back(std::make_shared<const v1::AnswerRequest>(*std::move(request)));
    }
    return source;
  }

  absl::StatusOr<RequestPtr> Take(uint64_t index) override {
    return requests_[index % requests_.size()];
  }

 private:
  DataSource() = default;
  std::vector<RequestPtr> requests_;
};

// Generated scenes, made ahead by producer threads into a bounded window of indexes.
class SyntheticSource final : public RequestSource {
 public:
  // `limit`: how many requests the run will take (0: unbounded, --duration).
  SyntheticSource(drivelm::benchmarks::SyntheticSceneOptions scene_options,
                  drivelm::clients::RequestOptions request_options, int threads, int capacity,
                  uint64_t limit)
      : scene_options_(scene_options),
        request_options_(std::move(request_options)),
        capacity_(static_cast<uint64_t>(std::max(capacity, 1))),
        limit_(limit) {
    for (int i = 0; i < std::max(threads, 1); ++i) {
      threads_.emplace_back([this] { Produce(); });
    }
  }

  ~SyntheticSource() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  absl::StatusOr<RequestPtr> Take(uint64_t index) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return ready_.count(index) > 0 || !error_.ok(); });
    if (!error_.ok()) return error_;
    RequestPtr r = std::move(ready_[index]);
    ready_.erase(index);
    next_take_ = index + 1;
    cv_.notify_all();
    return r;
  }

  void WaitReady() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] {
      if (!error_.ok()) return true;
      const uint64_t want_end =
          limit_ > 0 ? std::min(next_take_ + capacity_, limit_) : next_take_ + capacity_;
      for (uint64_t i = next_take_; i < want_end; ++i) {
        if (ready_.count(i) == 0) return false;
      }
      return true;
    });
  }

  void SetMeasuring(bool measuring) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      measuring_ = measuring;
    }
    cv_.notify_all();
  }

  double generation_cpu_s() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return cpu_s_;
  }
  int64_t generated() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return generated_;
  }

 private:
  void Produce() {
    for (;;) {
      uint64_t index = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ ||
                 (next_claim_ < next_take_ + capacity_ && (limit_ == 0 || next_claim_ < limit_) &&
                  (!measuring_ || next_claim_ <= next_take_));
        });
        if (stop_) return;
        index = next_claim_++;
      }
      const double cpu0 = ThreadCpuS();
      absl::StatusOr<drivelm::benchmarks::SyntheticScene> scene =
          drivelm::benchmarks::MakeSyntheticScene(scene_options_, index);
      absl::StatusOr<v1::AnswerRequest> request =
          scene.ok()
              ? drivelm::clients::BuildAnswerRequest(scene->scene, scene->images, request_options_)
              : absl::StatusOr<v1::AnswerRequest>(scene.status());
      const double cpu = ThreadCpuS() - cpu0;
      std::lock_guard<std::mutex> lock(mu_);
      cpu_s_ += cpu;
      ++generated_;
      if (!request.ok()) {
        error_ = request.status();
      } else {
        ready_[index] = std::make_shared<const v1::AnswerRequest>(*std::move(request));
      }
      cv_.notify_all();
    }
  }

  const drivelm::benchmarks::SyntheticSceneOptions scene_options_;
  const drivelm::clients::RequestOptions request_options_;
  const uint64_t capacity_;
  const uint64_t limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                     // guarded by mu_
  bool measuring_ = false;                // guarded by mu_
  uint64_t next_claim_ = 0;               // guarded by mu_
  uint64_t next_take_ = 0;                // guarded by mu_
  std::map<uint64_t, RequestPtr> ready_;  // guarded by mu_
  absl::Status error_;                    // guarded by mu_
  double cpu_s_ = 0;                      // guarded by mu_: generation CPU of the producer threads
  int64_t generated_ = 0;                 // guarded by mu_
  std::vector<std::thread> threads_;
};

// What one run (a sweep point, or the warmup) measured.
struct PointResult {
  double rate = 0;
  std::vector<RequestTiming> timings;
  double duration_s = 0;
  int64_t sent = 0;
  double client_cpu_s = 0;              // process CPU during the run
  double generation_cpu_s = 0;          // of which synthetic generation (producer threads)
  std::vector<double> dispatch_lag_ms;  // per request, beyond the concurrency wait
  double source_wait_s = 0;             // dispatcher waiting for the generator
  int64_t image_bytes = 0;              // encoded image bytes sent
};

// Sends requests on the schedule and collects their timings.
class Runner {
 public:
  Runner(v1::DriveLM::Stub* stub, RequestSource* source, int max_concurrency,
         std::optional<absl::Duration> deadline)
      : stub_(stub), source_(source), max_concurrency_(max_concurrency), deadline_(deadline) {}

  // Sends `count` requests (or for `duration_s` when count is 0) at `rate` from `first_index`.
  absl::StatusOr<PointResult> Run(double rate, double burstiness, uint64_t seed, int64_t count,
                                  double duration_s, uint64_t* next_index) {
    absl::StatusOr<drivelm::benchmarks::ArrivalProcess> arrivals =
        drivelm::benchmarks::ArrivalProcess::Create(rate, burstiness, seed);
    if (!arrivals.ok()) return arrivals.status();
    source_->WaitReady();
    PointResult point;
    point.rate = rate;
    {
      std::lock_guard<std::mutex> lock(mu_);
      timings_.clear();
      last_end_ = Clock::time_point();
    }
    std::thread reaper([this] { Reap(); });
    source_->SetMeasuring(true);
    const double cpu0 = ProcessCpuS();
    const double gen0 = source_->generation_cpu_s();
    t0_ = Clock::now();
    double scheduled_s = 0;
    absl::Status error;
    for (int64_t i = 0;; ++i) {
      if (count > 0 && i >= count) break;
      if (i > 0) scheduled_s += arrivals->NextGapS();
      if (count == 0 && scheduled_s >= duration_s) break;
      const Clock::time_point at = t0_ + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(scheduled_s));
      std::this_thread::sleep_until(at);
      // A slot under the concurrency cap.
      Clock::time_point ready_at;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return max_concurrency_ <= 0 || in_flight_ < max_concurrency_; });
        ++in_flight_;
        ready_at = std::max(Clock::now(), at);
      }
      const Clock::time_point wait0 = Clock::now();
      absl::StatusOr<RequestPtr> request = source_->Take((*next_index)++);
      point.source_wait_s += Seconds(Clock::now() - wait0);
      if (!request.ok()) {
        error = request.status();
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
        break;
      }
      for (const v1::CameraImage& image : (*request)->scene().images()) {
        point.image_bytes += static_cast<int64_t>(image.data().size());
      }
      auto flight = std::make_unique<InFlight>(*request, deadline_);
      for (const v1::Question& q : (*request)->questions()) flight->ids.push_back(q.id());
      InFlight* raw = flight.release();
      point.dispatch_lag_ms.push_back(Seconds(Clock::now() - ready_at) * 1e3);
      raw->stream.Start(stub_,
                        [this, raw](const AnswerCallResult& result) { OnDone(raw, result); });
      ++point.sent;
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return in_flight_ == 0; });
      stop_reaper_ = true;
    }
    cv_.notify_all();
    reaper.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_reaper_ = false;
      point.timings = std::move(timings_);
      point.duration_s = last_end_ > t0_ ? Seconds(last_end_ - t0_) : Seconds(Clock::now() - t0_);
    }
    point.client_cpu_s = ProcessCpuS() - cpu0;
    point.generation_cpu_s = source_->generation_cpu_s() - gen0;
    source_->SetMeasuring(false);
    if (!error.ok()) return error;
    return point;
  }

 private:
  struct InFlight {
    InFlight(RequestPtr request, std::optional<absl::Duration> deadline)
        : stream(std::move(request), deadline) {}
    AnswerStream stream;
    std::vector<std::string> ids;
  };

  // On a gRPC thread: record, then hand the call to the reaper (which may destroy it once
  // AnswerStream::Wait says it is finished).
  void OnDone(InFlight* flight, const AnswerCallResult& result) {
    const double send_s = Seconds(result.started - t0_);
    RequestTiming timing = drivelm::benchmarks::TimingFromCall(result, flight->ids, send_s);
    const Clock::time_point end = result.started + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(result.end_s));
    std::lock_guard<std::mutex> lock(mu_);
    timings_.push_back(std::move(timing));
    last_end_ = std::max(last_end_, end);
    done_.push_back(flight);
    cv_.notify_all();
  }

  void Reap() {
    for (;;) {
      InFlight* flight = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !done_.empty() || stop_reaper_; });
        if (done_.empty()) return;
        flight = done_.front();
        done_.pop_front();
      }
      flight->stream.Wait();  // returns once OnDone has fully finished with the object
      delete flight;
      {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
      }
      cv_.notify_all();
    }
  }

  v1::DriveLM::Stub* const stub_;
  RequestSource* const source_;
  const int max_concurrency_;
  const std::optional<absl::Duration> deadline_;
  Clock::time_point t0_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;                   // guarded by mu_
  std::deque<InFlight*> done_;          // guarded by mu_
  bool stop_reaper_ = false;            // guarded by mu_
  std::vector<RequestTiming> timings_;  // guarded by mu_
  Clock::time_point last_end_;          // guarded by mu_
};

nlohmann::json ErrorsByName(const std::map<int, int64_t>& errors) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [code, n] : errors) {
    // 0 among request errors: the RPC succeeded but a question failed.
    out[code == 0 ? "QUESTION_FAILED" : drivelm::clients::GrpcCodeName(code)] = n;
  }
  return out;
}

struct RunInfo {
  std::string model;
  std::string source;  // "synthetic" or the data file
  double burstiness = 1;
  int max_concurrency = 0;
  std::string slo_text;
  drivelm::benchmarks::Slo slo;
};

nlohmann::json PointJson(const PointResult& p, const RunInfo& info) {
  const drivelm::benchmarks::LoadMetrics m =
      drivelm::benchmarks::ComputeLoadMetrics(p.timings, p.duration_s, info.slo);
  nlohmann::json j;
  j["date"] = absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::LocalTimeZone());
  j["backend"] = "drivelm-grpc";
  j["model_id"] = info.model;
  j["source"] = info.source;
  j["num_prompts"] = p.sent;
  if (std::isinf(p.rate)) {
    j["request_rate"] = "inf";
  } else {
    j["request_rate"] = p.rate;
  }
  j["burstiness"] = info.burstiness;
  j["max_concurrency"] =
      info.max_concurrency > 0 ? nlohmann::json(info.max_concurrency) : nlohmann::json(nullptr);
  j.update(drivelm::benchmarks::LoadMetricsJson(m));
  j["errors"] = ErrorsByName(m.request_errors);
  j["question_errors"] = ErrorsByName(m.question_errors);
  int64_t questions = 0;
  for (const RequestTiming& r : p.timings) questions += static_cast<int64_t>(r.questions.size());
  j["questions_per_scene"] =
      p.timings.empty() ? 0.0 : static_cast<double>(questions) / p.timings.size();
  j["slo"] = info.slo_text;
  const drivelm::benchmarks::Distribution lag = drivelm::benchmarks::Summarize(p.dispatch_lag_ms);
  const double sent = std::max<double>(static_cast<double>(p.sent), 1);
  j["client"] = {
      {"cpu_s", p.client_cpu_s},
      {"cpu_ms_per_request", (p.client_cpu_s - p.generation_cpu_s) * 1e3 / sent},
      {"cpu_utilization",
       p.duration_s > 0 ? (p.client_cpu_s - p.generation_cpu_s) / p.duration_s : 0.0},
      {"generation_cpu_s_during_run", p.generation_cpu_s},
      {"dispatch_lag_mean_ms", lag.mean},
      {"dispatch_lag_p99_ms", lag.p99},
      {"generator_wait_s", p.source_wait_s},
      {"image_bytes_per_request", static_cast<double>(p.image_bytes) / sent},
  };
  return j;
}

void AddDetailed(const PointResult& p, nlohmann::json* j) {
  nlohmann::json ttfts = nlohmann::json::array(), e2els = nlohmann::json::array(),
                 lens = nlohmann::json::array();
  for (const RequestTiming& r : p.timings) {
    for (const drivelm::benchmarks::QuestionTiming& q : r.questions) {
      if (!q.ok) continue;
      ttfts.push_back(q.TtftS());
      e2els.push_back(q.E2eS());
      lens.push_back(q.generated_tokens);
    }
  }
  (*j)["ttfts"] = ttfts;
  (*j)["e2els"] = e2els;
  (*j)["output_lens"] = lens;
}

void PrintPoint(const nlohmann::json& j) {
  const auto num = [&](const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
  };
  std::printf(
      "============ drivelm loadgen: rate %s ============\n",
      j["request_rate"].is_string() ? "inf" : absl::StrFormat("%g", num("request_rate")).c_str());
  std::printf("%-40s %lld\n",
              "Successful requests (scenes):", static_cast<long long>(num("completed")));
  std::printf("%-40s %lld\n", "Failed requests:", static_cast<long long>(num("failed")));
  std::printf("%-40s %.2f\n", "Questions per scene:", num("questions_per_scene"));
  std::printf("%-40s %.2f\n", "Benchmark duration (s):", num("duration"));
  std::printf("%-40s %lld\n",
              "Total input tokens:", static_cast<long long>(num("total_input_tokens")));
  std::printf("%-40s %lld\n",
              "Total generated tokens:", static_cast<long long>(num("total_output_tokens")));
  std::printf("%-40s %.3f\n", "Request throughput (scenes/s):", num("request_throughput"));
  if (j["request_goodput"].is_number()) {
    std::printf("%-40s %.3f\n", "Request goodput (scenes/s):", num("request_goodput"));
  }
  std::printf("%-40s %.3f\n", "Question throughput (questions/s):", num("question_throughput"));
  std::printf("%-40s %.2f\n", "Output token throughput (tok/s):", num("output_throughput"));
  std::printf("%-40s %.2f\n", "Total token throughput (tok/s):", num("total_token_throughput"));
  for (const auto& [name, key] : std::vector<std::pair<const char*, const char*>>{
           {"Time to First Token", "ttft"},
           {"Time per Output Token (excl. 1st)", "tpot"},
           {"Inter-token Latency", "itl"},
           {"End-to-end Latency (per question)", "e2el"}}) {
    std::printf("---------------%s---------------\n", name);
    for (const char* stat : {"mean", "median", "p90", "p99"}) {
      const std::string k = absl::StrCat(stat, "_", key, "_ms");
      std::printf("%-40s %.2f\n", absl::StrCat(stat, " (ms):").c_str(), num(k.c_str()));
    }
  }
  if (!j["errors"].empty()) std::printf("Errors: %s\n", j["errors"].dump().c_str());
  if (!j["question_errors"].empty()) {
    std::printf("Question errors: %s\n", j["question_errors"].dump().c_str());
  }
  const nlohmann::json& c = j["client"];
  std::printf(
      "Client: %.2f ms CPU per request (%.1f%% of a core), dispatch lag mean %.2f ms / "
      "p99 %.2f ms, waited %.2f s for the generator\n",
      c["cpu_ms_per_request"].get<double>(), 100 * c["cpu_utilization"].get<double>(),
      c["dispatch_lag_mean_ms"].get<double>(), c["dispatch_lag_p99_ms"].get<double>(),
      c["generator_wait_s"].get<double>());
  if (c["dispatch_lag_p99_ms"].get<double>() > 10 || c["generator_wait_s"].get<double>() > 0.1) {
    std::printf(
        "WARNING: the client fell behind its schedule; the offered load was lower than "
        "asked (raise --prefetch/--generator_threads or lower the rate)\n");
  }
  std::printf("==================================================\n");
  std::fflush(stdout);
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string StripJson(const std::string& path) {
  const std::string ext = ".json";
  if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0) {
    return path.substr(0, path.size() - ext.size());
  }
  return path;
}

// Writes PLOT.dat and PLOT.gp next to the PNG and runs gnuplot. A missing gnuplot is reported,
// not fatal (the data and script stay for later).
void Plot(const std::vector<nlohmann::json>& points, const std::string& png,
          const std::string& title) {
  const std::string stem =
      png.size() > 4 && png.substr(png.size() - 4) == ".png" ? png.substr(0, png.size() - 4) : png;
  std::string dat =
      "# offered achieved_scenes_s goodput_scenes_s questions_s output_tok_s ttft_p50 ttft_p90 "
      "ttft_p99 e2el_p50 e2el_p90 e2el_p99 tpot_p50 tpot_p99 itl_p50 itl_p99\n";
  for (const nlohmann::json& j : points) {
    const auto num = [&](const char* key) {
      return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
    };
    const std::string offered =
        j["request_rate"].is_string() ? "inf" : absl::StrFormat("%g", num("request_rate"));
    absl::StrAppendFormat(
        &dat, "%s %g %g %g %g %g %g %g %g %g %g %g %g %g %g\n", offered, num("request_throughput"),
        num("request_goodput"), num("question_throughput"), num("output_throughput"),
        num("median_ttft_ms"), num("p90_ttft_ms"), num("p99_ttft_ms"), num("median_e2el_ms"),
        num("p90_e2el_ms"), num("p99_e2el_ms"), num("median_tpot_ms"), num("p99_tpot_ms"),
        num("median_itl_ms"), num("p99_itl_ms"));
  }
  const std::string gp = absl::StrCat(
      "set terminal pngcairo size 1400,560 font ',10'\n", "set output '", png, "'\n",
      "set multiplot layout 1,2 title '", title, "'\n", "set grid\n", "set key top left\n",
      "set xlabel 'offered load (scenes/s)'\n", "set ylabel 'latency per question (ms)'\n",
      "set logscale y\n", "f = '", stem, ".dat'\n",
      "plot f using 0:6:xtic(1) with linespoints title 'TTFT p50', ",
      "f using 0:8 with linespoints title 'TTFT p99', ",
      "f using 0:9 with linespoints title 'E2E p50', ",
      "f using 0:11 with linespoints title 'E2E p99', ",
      "f using 0:12 with linespoints title 'TPOT p50', ",
      "f using 0:13 with linespoints title 'TPOT p99'\n", "unset logscale y\n",
      "set ylabel 'scenes/s'\n", "set y2label 'output tokens/s'\n", "set y2tics\n",
      "set ytics nomirror\n", "set yrange [0:*]\n", "set y2range [0:*]\n",
      "plot f using 0:2:xtic(1) with linespoints title 'achieved scenes/s', ",
      "f using 0:3 with linespoints title 'goodput scenes/s (SLO)', ",
      "f using 0:5 axes x1y2 with linespoints title 'output tokens/s'\n", "unset multiplot\n");
  if (absl::Status s = WriteText(stem + ".dat", dat); !s.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", s.ToString().c_str());
    return;
  }
  if (absl::Status s = WriteText(stem + ".gp", gp); !s.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", s.ToString().c_str());
    return;
  }
  const std::string command = absl::StrCat("gnuplot '", stem, ".gp' 2>&1");
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    std::fprintf(stderr,
                 "loadgen: gnuplot failed (exit %d; is gnuplot-nox installed? "
                 "tools/setup_deps.sh installs it); the data and script are in %s.dat/.gp\n",
                 rc, stem.c_str());
    return;
  }
  std::fprintf(stderr, "loadgen: plotted %s\n", png.c_str());
}

int Main() {
  const std::string result_path = absl::GetFlag(FLAGS_result_json);
  if (result_path.empty()) return Fail(kExitUsage, "--result_json FILE is required");
  const bool synthetic = absl::GetFlag(FLAGS_synthetic);
  const std::string data = absl::GetFlag(FLAGS_data);
  if (synthetic == !data.empty()) {
    return Fail(kExitUsage, "give exactly one of --data FILE or --synthetic");
  }
  if (!synthetic && absl::GetFlag(FLAGS_repeat_scenes)) {
    return Fail(kExitUsage, "--repeat_scenes goes with --synthetic (--data frames repeat anyway)");
  }
  const int64_t num_requests = absl::GetFlag(FLAGS_num_requests);
  const double duration = absl::GetFlag(FLAGS_duration);
  if ((num_requests > 0) == (duration > 0)) {
    return Fail(kExitUsage, "give exactly one of --num_requests N (> 0) or --duration S (> 0)");
  }
  if (num_requests < 0 || duration < 0) {
    return Fail(kExitUsage, "--num_requests and --duration must be positive");
  }
  std::vector<double> rates;
  if (!absl::GetFlag(FLAGS_sweep).empty()) {
    for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_sweep), ',')) {
      absl::StatusOr<double> r = drivelm::benchmarks::ParseRequestRate(part);
      if (!r.ok()) return Fail(kExitUsage, absl::StrCat("--sweep: ", r.status().message()));
      rates.push_back(*r);
    }
  } else {
    absl::StatusOr<double> r =
        drivelm::benchmarks::ParseRequestRate(absl::GetFlag(FLAGS_request_rate));
    if (!r.ok()) return Fail(kExitUsage, absl::StrCat("--request_rate: ", r.status().message()));
    rates.push_back(*r);
  }
  const double burstiness = absl::GetFlag(FLAGS_burstiness);
  if (!(burstiness > 0)) return Fail(kExitUsage, "--burstiness must be > 0");
  absl::StatusOr<drivelm::benchmarks::Slo> slo =
      drivelm::benchmarks::ParseSlo(absl::GetFlag(FLAGS_slo));
  if (!slo.ok()) return Fail(kExitUsage, std::string(slo.status().message()));
  const int max_concurrency = absl::GetFlag(FLAGS_max_concurrency);
  if (max_concurrency < 0) return Fail(kExitUsage, "--max_concurrency must be >= 0");
  if (duration > 0 && max_concurrency == 0) {
    for (double r : rates) {
      if (std::isinf(r)) {
        return Fail(kExitUsage,
                    "--request_rate inf with --duration needs --max_concurrency (a closed loop); "
                    "without a cap it would send without end");
      }
    }
  }
  const int warmup = absl::GetFlag(FLAGS_warmup);
  if (warmup < 0) return Fail(kExitUsage, "--warmup must be >= 0");
  const int questions = absl::GetFlag(FLAGS_questions_per_scene);
  if (questions < 0) return Fail(kExitUsage, "--questions_per_scene must be >= 0");

  drivelm::clients::RequestOptions options;
  if (absl::GetFlag(FLAGS_greedy)) options.greedy = true;
  if (absl::GetFlag(FLAGS_max_new_tokens) > 0) {
    options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  }
  options.seed = absl::GetFlag(FLAGS_seed);

  std::unique_ptr<RequestSource> source;
  RunInfo info;
  info.burstiness = burstiness;
  info.max_concurrency = max_concurrency;
  info.slo = *slo;
  info.slo_text = absl::GetFlag(FLAGS_slo);
  if (synthetic) {
    absl::StatusOr<std::pair<int, int>> size =
        drivelm::benchmarks::ParseImageSize(absl::GetFlag(FLAGS_synthetic_size));
    if (!size.ok())
      return Fail(kExitUsage, absl::StrCat("--synthetic_size: ", size.status().message()));
    drivelm::benchmarks::SyntheticSceneOptions scene;
    scene.width = size->first;
    scene.height = size->second;
    scene.jpeg_quality = absl::GetFlag(FLAGS_synthetic_quality);
    scene.questions = questions > 0 ? questions : 20;
    scene.seed = absl::GetFlag(FLAGS_seed);
    scene.repeat = absl::GetFlag(FLAGS_repeat_scenes);
    if (absl::StatusOr<drivelm::benchmarks::SyntheticScene> probe =
            drivelm::benchmarks::MakeSyntheticScene(
                [&] {
                  drivelm::benchmarks::SyntheticSceneOptions tiny = scene;
                  tiny.width = tiny.height = 16;
                  return tiny;
                }(),
                0);
        !probe.ok()) {
      return Fail(kExitUsage, std::string(probe.status().message()));
    }
    int threads = absl::GetFlag(FLAGS_generator_threads);
    if (threads <= 0) {
      threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
    }
    const uint64_t limit = num_requests > 0 ? static_cast<uint64_t>(warmup) +
                                                  static_cast<uint64_t>(num_requests) * rates.size()
                                            : 0;
    source = std::make_unique<SyntheticSource>(scene, options, threads,
                                               std::max(1, absl::GetFlag(FLAGS_prefetch)), limit);
    info.source = absl::StrCat("synthetic ", scene.width, "x", scene.height,
                               scene.repeat ? " repeated" : " distinct");
  } else {
    std::string root = absl::GetFlag(FLAGS_images_root);
    if (root.empty()) root = DirName(data);
    absl::StatusOr<std::unique_ptr<DataSource>> loaded =
        DataSource::Load(data, root, questions, options);
    if (!loaded.ok()) return Fail(kExitUsage, loaded.status().ToString());
    source = *std::move(loaded);
    info.source = data;
  }

  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  std::unique_ptr<v1::DriveLM::Stub> stub = v1::DriveLM::NewStub(channel);
  {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s))));
    v1::ModelInfo model;
    const grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &model);
    if (!status.ok()) {
      return Fail(kExitServer,
                  absl::StrCat("cannot reach the server at ", absl::GetFlag(FLAGS_server), ": ",
                               drivelm::clients::GrpcCodeName(status.error_code()), ": ",
                               status.error_message()));
    }
    info.model = model.model_name();
    std::fprintf(stderr, "loadgen: server %s: model %s (%s backend); source: %s\n",
                 absl::GetFlag(FLAGS_server).c_str(), model.model_name().c_str(),
                 model.backend().c_str(), info.source.c_str());
  }

  const double deadline_s = absl::GetFlag(FLAGS_deadline_s);
  Runner runner(
      stub.get(), source.get(), max_concurrency,
      deadline_s > 0 ? std::optional<absl::Duration>(absl::Seconds(deadline_s)) : std::nullopt);
  uint64_t next_index = 0;
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (warmup > 0) {
    std::fprintf(stderr, "loadgen: warming up with %d requests\n", warmup);
    absl::StatusOr<PointResult> w =
        runner.Run(std::numeric_limits<double>::infinity(), 1, seed, warmup, 0, &next_index);
    if (!w.ok()) return Fail(kExitUsage, w.status().ToString());
  }
  std::vector<nlohmann::json> points;
  int64_t completed = 0;
  for (size_t k = 0; k < rates.size(); ++k) {
    std::fprintf(stderr, "loadgen: rate %s, %s\n", RateText(rates[k]).c_str(),
                 num_requests > 0 ? absl::StrCat(num_requests, " requests").c_str()
                                  : absl::StrCat(duration, " s").c_str());
    absl::StatusOr<PointResult> p =
        runner.Run(rates[k], burstiness, seed + k, num_requests, duration, &next_index);
    if (!p.ok()) return Fail(kExitUsage, p.status().ToString());
    nlohmann::json j = PointJson(*p, info);
    if (absl::GetFlag(FLAGS_save_detailed)) AddDetailed(*p, &j);
    PrintPoint(j);
    completed += j["completed"].get<int64_t>();
    points.push_back(std::move(j));
  }

  nlohmann::json result;
  if (absl::GetFlag(FLAGS_sweep).empty()) {
    result = points.front();
  } else {
    std::string png = absl::GetFlag(FLAGS_plot);
    if (png.empty()) png = StripJson(result_path) + ".png";
    result = {{"sweep", points}, {"plot", png}};
    Plot(points, png,
         absl::StrCat("drivelm loadgen: ", info.model, ", ", info.source, ", ",
                      points.front()["questions_per_scene"].get<double>(), " questions/scene"));
  }
  const std::string text =
      result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (absl::Status s = WriteText(result_path, text); !s.ok()) {
    return Fail(kExitUsage, s.ToString());
  }
  std::fprintf(stderr, "loadgen: wrote %s\n", result_path.c_str());
  return completed > 0 ? kExitOk : kExitAllFailed;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for drivelm_server: loadgen --server ADDR (--data FILE | --synthetic) "
      "--request_rate R|inf (--num_requests N | --duration S) --result_json FILE");
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(kExitUsage, absl::StrCat("unexpected argument '", rest[1], "'"));
  return Main();
}
