// drivelm_eval: replays a DriveLM-nuScenes file against a drivelm_server and writes the
// challenge's prediction file; scores it when the file has answers and tags.
//
//   drivelm_eval --server 127.0.0.1:50051 --data test_eval.json --images_root DIR
//       --out pred.json [--concurrency 2] [--summary_json summary.json]
//       [--judge_url http://127.0.0.1:8000/v1 --judge_model M]
//   drivelm_eval --score_only --pred pred.json --gt test_eval.json [--summary_json F] [judge]
//
// Replay: one Answer request per key frame, with its cameras (image_paths, relative to
// --images_root; default: the data file's directory, which is what the DriveLM files'
// "../nuscenes/samples/..." paths expect) and its questions, independent (no depends_on), with
// the challenge's ids scene_token_frame_token_i (i over perception, prediction, planning,
// behavior in that order). Train, val and test layouts are read alike; answers and tags, when
// present, are only used for scoring.
//
// Resumable: ids already in --out are not asked again (a frame with some answered questions
// sends only the others); --out is rewritten atomically as frames finish (at most every
// --flush_interval_s) and at the end, so an interrupted run (Ctrl-C, a crash) is resumed by
// running the same command again. Frames refused with RESOURCE_EXHAUSTED or UNAVAILABLE are
// retried with backoff (--max_retries); other failures are reported and left unanswered for the
// next run.
//
// Progress on stderr: a bar with rate and ETA on a terminal, a plain line every 10 s otherwise.
// At the end: the latency summary of the run (per question TTFT, TPOT, ITL, E2E; mean, median,
// p90, p99) and, when the data has answers and tags, the per-tag scores; --summary_json writes
// both.
//
// Exit status: 0 done; 1 bad arguments or unreadable input; 2 the server is unreachable;
// 3 some questions failed (their ids are not in --out; rerun to retry them) or scoring failed;
// 130 interrupted.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmarks/call_timing.h"
#include "benchmarks/load_stats.h"
#include "clients/answer_request.h"
#include "clients/answer_stream.h"
#include "clients/client_scene.h"
#include "clients/drivelm_scoring.h"
#include "clients/openai_judge.h"
#include "clients/prediction_file.h"
#include "clients/progress_bar.h"
#include "clients/status_names.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "drivelm_server address host:port");
ABSL_FLAG(std::string, data, "", "DriveLM-nuScenes JSON to replay (train, val or test layout)");
ABSL_FLAG(std::string, images_root, "",
          "directory image_paths are relative to (default: the --data file's directory)");
ABSL_FLAG(std::string, out, "", "prediction file to write (and resume from)");
ABSL_FLAG(int32_t, concurrency, 2, "key frames in flight at once");
ABSL_FLAG(int32_t, limit_frames, 0, "replay only the first N key frames (0: all)");
ABSL_FLAG(std::string, summary_json, "", "write scores and the latency summary here");
ABSL_FLAG(bool, score_only, false, "only score --pred against --gt");
ABSL_FLAG(std::string, pred, "", "with --score_only: the prediction file");
ABSL_FLAG(std::string, gt, "", "with --score_only: the evaluation file (answers and tags)");
ABSL_FLAG(bool, no_score, false, "do not score after the replay");
ABSL_FLAG(std::string, judge_url, "",
          "OpenAI-compatible API base (http://host:port/v1) or .../chat/completions URL for the "
          "LLM judge (tag 1 and half of match); without it those parts are reported missing");
ABSL_FLAG(std::string, judge_model, "", "judge model name (the challenge used gpt-3.5-turbo)");
ABSL_FLAG(std::string, judge_api_key_env, "OPENAI_API_KEY",
          "environment variable holding the judge's API key (sent as a Bearer token when set)");
ABSL_FLAG(int32_t, judge_concurrency, 8, "judge requests in flight");
ABSL_FLAG(int32_t, max_new_tokens, 0, "tokens per answer at most (0: the model's default)");
ABSL_FLAG(bool, greedy, false, "greedy decoding (default: the model profile's sampling)");
ABSL_FLAG(double, temperature, 0, "sampling temperature (0: the profile's)");
ABSL_FLAG(double, top_p, 0, "nucleus sampling mass (0: the profile's)");
ABSL_FLAG(int64_t, seed, -1, "sampling seed (-1: the profile's)");
ABSL_FLAG(double, deadline_s, 600, "deadline of one frame's request in seconds (0: none)");
ABSL_FLAG(int32_t, max_retries, 3,
          "retries of a frame refused with RESOURCE_EXHAUSTED or UNAVAILABLE");
ABSL_FLAG(double, flush_interval_s, 1, "rewrite --out at most this often while running");
ABSL_FLAG(double, connect_timeout_s, 30, "how long to wait for the server at startup");

namespace {

namespace v1 = drivelm::v1;
using drivelm::benchmarks::LoadMetrics;
using drivelm::benchmarks::RequestTiming;
using drivelm::clients::AnswerCallResult;
using drivelm::clients::AnswerStream;
using drivelm::clients::ClientQuestion;
using drivelm::clients::ClientScene;
using drivelm::clients::Prediction;
using drivelm::clients::PredictionFile;
namespace eval = drivelm::eval;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitServer = 2;
constexpr int kExitFailed = 3;
constexpr int kExitInterrupted = 130;

std::atomic<int> g_signals{0};

void OnSignal(int) { g_signals.fetch_add(1); }

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "drivelm_eval: %s\n", message.c_str());
  return code;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

absl::StatusOr<std::unique_ptr<drivelm::clients::OpenAiJudge>> JudgeFromFlags() {
  if (absl::GetFlag(FLAGS_judge_url).empty()) {
    if (!absl::GetFlag(FLAGS_judge_model).empty()) {
      return absl::InvalidArgumentError("--judge_model needs --judge_url");
    }
    return std::unique_ptr<drivelm::clients::OpenAiJudge>();
  }
  drivelm::clients::JudgeOptions options;
  options.url = absl::GetFlag(FLAGS_judge_url);
  options.model = absl::GetFlag(FLAGS_judge_model);
  const std::string key_env = absl::GetFlag(FLAGS_judge_api_key_env);
  if (const char* key = key_env.empty() ? nullptr : std::getenv(key_env.c_str())) {
    options.api_key = key;
  }
  return drivelm::clients::OpenAiJudge::Create(std::move(options));
}

// Scores `pred` against `gt` and prints the per-tag table; the scores are merged into *summary.
// Returns the exit code.
int Score(const std::string& gt, const std::string& pred, eval::Judge* judge,
          nlohmann::json* summary) {
  drivelm::clients::ScoreOptions options;
  options.judge = judge;
  options.judge_concurrency = std::max(1, absl::GetFlag(FLAGS_judge_concurrency));
  if (judge == nullptr) {
    std::fprintf(stderr,
                 "drivelm_eval: no --judge_url: the judge parts (tag 1 \"chatgpt\" and the judge "
                 "half of tag 3 \"match\") are not scored; final_score counts them as 0 (a lower "
                 "bound), final_score_upper_bound as 100\n");
  }
  absl::StatusOr<drivelm::clients::DriveLmScores> scores =
      drivelm::clients::ScoreDriveLmFiles(gt, pred, options);
  if (!scores.ok()) {
    (*summary)["scoring_error"] = scores.status().ToString();
    return Fail(kExitFailed, absl::StrCat("scoring failed: ", scores.status().ToString()));
  }
  std::printf("%s", scores->table.c_str());
  std::fflush(stdout);
  summary->update(scores->summary);
  return kExitOk;
}

absl::Status WriteJson(const std::string& path, const nlohmann::json& j) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

int WriteSummary(const nlohmann::json& summary) {
  const std::string path = absl::GetFlag(FLAGS_summary_json);
  if (path.empty()) return kExitOk;
  if (absl::Status s = WriteJson(path, summary); !s.ok()) return Fail(kExitUsage, s.ToString());
  std::fprintf(stderr, "drivelm_eval: wrote %s\n", path.c_str());
  return kExitOk;
}

int RunScoreOnly() {
  const std::string pred = absl::GetFlag(FLAGS_pred), gt = absl::GetFlag(FLAGS_gt);
  if (pred.empty() || gt.empty()) return Fail(kExitUsage, "--score_only needs --pred and --gt");
  if (!absl::GetFlag(FLAGS_data).empty() || !absl::GetFlag(FLAGS_out).empty()) {
    return Fail(kExitUsage, "--score_only reads --pred and --gt; drop --data/--out");
  }
  for (const std::string& path : {pred, gt}) {
    if (!std::ifstream(path)) return Fail(kExitUsage, absl::StrCat("cannot read ", path));
  }
  absl::StatusOr<std::unique_ptr<drivelm::clients::OpenAiJudge>> judge = JudgeFromFlags();
  if (!judge.ok()) return Fail(kExitUsage, judge.status().ToString());
  nlohmann::json summary = {{"pred", pred}, {"gt", gt}};
  const int code = Score(gt, pred, judge->get(), &summary);
  const int written = WriteSummary(summary);
  return code != kExitOk ? code : written;
}

// One frame's work: the questions still to answer.
struct FrameJob {
  const ClientScene* frame = nullptr;
  ClientScene pending;  // the frame with only its unanswered questions
};

// State shared by the replay workers.
class Replay {
 public:
  Replay(std::vector<FrameJob> jobs, PredictionFile* file, v1::DriveLM::Stub* stub,
         drivelm::clients::RequestOptions options, int64_t total_questions)
      : jobs_(std::move(jobs)),
        file_(file),
        stub_(stub),
        options_(std::move(options)),
        progress_(stderr, total_questions, "questions", ::isatty(STDERR_FILENO) != 0) {}

  // Runs `concurrency` workers over the jobs; returns when all are done or a signal stopped it.
  void Run(int concurrency) {
    start_ = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int i = 0; i < concurrency; ++i) workers.emplace_back([this] { Work(); });
    // Signals: the first stops new frames and cancels those in flight; a second one writes what
    // is answered and exits at once.
    while (!finished_.load()) {
      if (g_signals.load() > 1) {
        absl::Status s = Flush();
        std::fprintf(stderr, "drivelm_eval: interrupted twice; %s\n",
                     s.ok() ? "answers so far written" : s.ToString().c_str());
        std::_Exit(kExitInterrupted);
      }
      if (g_signals.load() > 0 && !stopping_.exchange(true)) {
        std::fprintf(stderr,
                     "\ndrivelm_eval: interrupted; stopping (the answers so far are "
                     "kept: run the same command to resume)\n");
        std::lock_guard<std::mutex> lock(active_mu_);
        for (AnswerStream* s : active_) s->Cancel();
      }
      absl::SleepFor(absl::Milliseconds(50));
      if (workers_done_.load() == concurrency) finished_ = true;
    }
    for (std::thread& t : workers) t.join();
    end_ = std::chrono::steady_clock::now();
    progress_.Finish(answered_.load(), failed_.load());
  }

  bool interrupted() const { return stopping_.load(); }
  int64_t answered() const { return answered_.load(); }
  int64_t failed() const { return failed_.load(); }
  const std::map<std::string, int64_t>& errors() const { return errors_; }
  const std::vector<std::string>& error_examples() const { return error_examples_; }
  const std::vector<RequestTiming>& timings() const { return timings_; }
  double duration_s() const { return std::chrono::duration<double>(end_ - start_).count(); }

  absl::Status Flush() {
    std::lock_guard<std::mutex> lock(file_mu_);
    last_flush_ = absl::Now();
    return file_->Write();
  }

 private:
  void Work() {
    for (;;) {
      const size_t i = next_.fetch_add(1);
      if (i >= jobs_.size() || stopping_.load()) break;
      RunFrame(jobs_[i]);
    }
    workers_done_.fetch_add(1);
  }

  void RunFrame(const FrameJob& job) {
    absl::StatusOr<std::vector<drivelm::clients::EncodedImage>> images =
        drivelm::clients::ReadSceneImages(job.pending);
    absl::StatusOr<v1::AnswerRequest> request =
        images.ok() ? drivelm::clients::BuildAnswerRequest(job.pending, *images, options_)
                    : absl::StatusOr<v1::AnswerRequest>(images.status());
    if (!request.ok()) {
      RecordFailure(job, "FRAME_INPUT", request.status().ToString());
      return;
    }
    auto shared = std::make_shared<const v1::AnswerRequest>(*std::move(request));
    std::vector<std::string> ids;
    for (const ClientQuestion& q : job.pending.questions) ids.push_back(q.id);
    const double deadline_s = absl::GetFlag(FLAGS_deadline_s);
    const int max_retries = absl::GetFlag(FLAGS_max_retries);
    for (int attempt = 0;; ++attempt) {
      AnswerStream stream(shared, deadline_s > 0
                                      ? std::optional<absl::Duration>(absl::Seconds(deadline_s))
                                      : std::nullopt);
      const double send_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      {
        std::lock_guard<std::mutex> lock(active_mu_);
        if (stopping_.load()) return;
        active_.insert(&stream);
      }
      stream.Start(stub_);
      AnswerCallResult result = stream.Wait();
      {
        std::lock_guard<std::mutex> lock(active_mu_);
        active_.erase(&stream);
      }
      const grpc::StatusCode code = result.status.error_code();
      const bool retryable =
          code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::UNAVAILABLE;
      // Refusals (queue full, draining server) come before any answer, so the retry resends the
      // whole frame.
      if (retryable && attempt < max_retries && !stopping_.load()) {
        absl::SleepFor(absl::Milliseconds(500 << std::min(attempt, 6)));
        continue;
      }
      Record(job, result, drivelm::benchmarks::TimingFromCall(result, ids, send_s));
      return;
    }
  }

  void RecordFailure(const FrameJob& job, const std::string& code, const std::string& message) {
    std::lock_guard<std::mutex> lock(file_mu_);
    errors_[code] += static_cast<int64_t>(job.pending.questions.size());
    failed_ += static_cast<int64_t>(job.pending.questions.size());
    if (error_examples_.size() < 5) {
      error_examples_.push_back(absl::StrCat(job.pending.scene_id, ": ", message));
    }
    progress_.Update(answered_.load(), failed_.load());
  }

  void Record(const FrameJob& job, const AnswerCallResult& result, RequestTiming timing) {
    const bool interrupted = stopping_.load();
    std::lock_guard<std::mutex> lock(file_mu_);
    for (const ClientQuestion& q : job.pending.questions) {
      auto it = result.questions.find(q.id);
      if (it != result.questions.end() && it->second.ok()) {
        file_->Add({q.id, q.text, it->second.text});
        ++answered_;
        continue;
      }
      if (interrupted && result.status.error_code() == grpc::StatusCode::CANCELLED) continue;
      ++failed_;
      std::string code, message;
      if (it != result.questions.end() && it->second.done) {
        code = drivelm::clients::GrpcCodeName(it->second.done->status().code());
        message = it->second.done->status().message();
      } else {
        code = drivelm::clients::GrpcCodeName(static_cast<int>(result.status.error_code()));
        message = result.status.error_message();
      }
      ++errors_[code];
      if (error_examples_.size() < 5) {
        error_examples_.push_back(absl::StrCat(q.id, ": ", code, ": ", message));
      }
    }
    if (!interrupted || result.status.error_code() != grpc::StatusCode::CANCELLED) {
      timings_.push_back(std::move(timing));
    }
    if (absl::Now() - last_flush_ >= absl::Seconds(absl::GetFlag(FLAGS_flush_interval_s))) {
      last_flush_ = absl::Now();
      if (absl::Status s = file_->Write(); !s.ok()) {
        std::fprintf(stderr, "drivelm_eval: %s\n", s.ToString().c_str());
      }
    }
    progress_.Update(answered_.load(), failed_.load());
  }

  const std::vector<FrameJob> jobs_;
  PredictionFile* const file_;
  v1::DriveLM::Stub* const stub_;
  const drivelm::clients::RequestOptions options_;
  drivelm::clients::ProgressBar progress_;
  std::chrono::steady_clock::time_point start_, end_;
  std::atomic<size_t> next_{0};
  std::atomic<int> workers_done_{0};
  std::atomic<bool> finished_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> answered_{0};
  std::atomic<int64_t> failed_{0};

  std::mutex active_mu_;
  std::set<AnswerStream*> active_;  // calls in flight, for cancellation; guarded by active_mu_

  std::mutex file_mu_;  // guards file_, the counters below, timings_
  absl::Time last_flush_ = absl::Now();
  std::map<std::string, int64_t> errors_;  // failed questions by status name
  std::vector<std::string> error_examples_;
  std::vector<RequestTiming> timings_;
};

void PrintLatency(const LoadMetrics& m) {
  std::printf("latency per question (ms)     mean   median      p90      p99\n");
  const auto row = [](const char* name, const drivelm::benchmarks::Distribution& d) {
    std::printf("  %-24s %8.1f %8.1f %8.1f %8.1f\n", name, d.mean, d.median, d.p90, d.p99);
  };
  row("TTFT", m.ttft_ms);
  row("TPOT", m.tpot_ms);
  row("ITL", m.itl_ms);
  row("E2E", m.e2el_ms);
  row("frame E2E", m.scene_e2el_ms);
  std::printf("throughput: %.3g frames/s, %.3g questions/s, %.4g output tokens/s over %.1f s\n",
              m.request_throughput, m.question_throughput, m.output_throughput, m.duration_s);
}

int RunReplay() {
  const std::string data = absl::GetFlag(FLAGS_data), out = absl::GetFlag(FLAGS_out);
  if (data.empty() || out.empty()) {
    return Fail(kExitUsage, "give --data FILE and --out PRED.json (or --score_only)");
  }
  if (!absl::GetFlag(FLAGS_pred).empty() || !absl::GetFlag(FLAGS_gt).empty()) {
    return Fail(kExitUsage, "--pred and --gt go with --score_only");
  }
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  if (concurrency < 1 || concurrency > 1024) {
    return Fail(kExitUsage, absl::StrCat("--concurrency must be in 1..1024, not ", concurrency));
  }
  absl::StatusOr<std::unique_ptr<drivelm::clients::OpenAiJudge>> judge = JudgeFromFlags();
  if (!judge.ok()) return Fail(kExitUsage, judge.status().ToString());

  drivelm::clients::RequestOptions options;
  if (absl::GetFlag(FLAGS_greedy)) options.greedy = true;
  if (absl::GetFlag(FLAGS_temperature) > 0) options.temperature = absl::GetFlag(FLAGS_temperature);
  if (absl::GetFlag(FLAGS_top_p) > 0) options.top_p = absl::GetFlag(FLAGS_top_p);
  if (absl::GetFlag(FLAGS_seed) >= 0) options.seed = absl::GetFlag(FLAGS_seed);
  if (absl::GetFlag(FLAGS_max_new_tokens) > 0) {
    options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  }

  std::string root = absl::GetFlag(FLAGS_images_root);
  if (root.empty()) root = DirName(data);
  absl::StatusOr<std::vector<ClientScene>> frames = drivelm::clients::LoadDriveLmFile(data, root);
  if (!frames.ok()) return Fail(kExitUsage, frames.status().ToString());
  if (const int limit = absl::GetFlag(FLAGS_limit_frames);
      limit > 0 && static_cast<size_t>(limit) < frames->size()) {
    frames->resize(static_cast<size_t>(limit));
  }
  absl::StatusOr<PredictionFile> file = PredictionFile::Open(out);
  if (!file.ok()) {
    return Fail(kExitUsage, absl::StrCat(file.status().ToString(),
                                         " (not overwritten; move it away to start afresh)"));
  }

  // What is left to ask.
  std::vector<FrameJob> jobs;
  std::set<std::string> ids;
  int64_t total = 0, skipped = 0;
  for (const ClientScene& frame : *frames) {
    FrameJob job{&frame, frame};
    job.pending.questions.clear();
    for (const ClientQuestion& q : frame.questions) {
      if (!ids.insert(q.id).second) {
        return Fail(kExitUsage, absl::StrCat(data, ": question id ", q.id,
                                             " appears twice (a key frame listed twice?)"));
      }
      ++total;
      if (file->Has(q.id)) {
        ++skipped;
      } else {
        job.pending.questions.push_back(q);
      }
    }
    if (!job.pending.questions.empty()) jobs.push_back(std::move(job));
  }
  std::fprintf(stderr,
               "drivelm_eval: %s: %zu key frames, %lld questions; %lld already in %s, "
               "%lld to ask in %zu frames\n",
               data.c_str(), frames->size(), static_cast<long long>(total),
               static_cast<long long>(skipped), out.c_str(),
               static_cast<long long>(total - skipped), jobs.size());

  nlohmann::json summary = {
      {"data", data},
      {"out", out},
      {"server", absl::GetFlag(FLAGS_server)},
      {"frames", frames->size()},
      {"questions", total},
      {"skipped_already_answered", skipped},
  };
  int code = kExitOk;
  if (!jobs.empty()) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
    std::unique_ptr<v1::DriveLM::Stub> stub = v1::DriveLM::NewStub(channel);
    // Fail fast, with the reason, when the server is not there.
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s))));
    v1::ModelInfo info;
    const grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
    if (!status.ok()) {
      return Fail(kExitServer,
                  absl::StrCat("cannot reach the server at ", absl::GetFlag(FLAGS_server), ": ",
                               drivelm::clients::GrpcCodeName(status.error_code()), ": ",
                               status.error_message()));
    }
    std::fprintf(stderr, "drivelm_eval: server %s: model %s (%s, %s backend)\n",
                 absl::GetFlag(FLAGS_server).c_str(), info.model_name().c_str(),
                 info.decoder_type().c_str(), info.backend().c_str());
    summary["model"] = info.model_name();

    ::signal(SIGINT, OnSignal);
    ::signal(SIGTERM, OnSignal);
    Replay replay(std::move(jobs), &*file, stub.get(), options, total - skipped);
    replay.Run(concurrency);
    if (absl::Status s = replay.Flush(); !s.ok()) return Fail(kExitUsage, s.ToString());
    std::fprintf(stderr, "drivelm_eval: %lld answered, %lld failed; %zu predictions in %s\n",
                 static_cast<long long>(replay.answered()), static_cast<long long>(replay.failed()),
                 file->size(), out.c_str());
    for (const std::string& e : replay.error_examples()) {
      std::fprintf(stderr, "  failed: %s\n", e.c_str());
    }
    const LoadMetrics metrics = drivelm::benchmarks::ComputeLoadMetrics(
        replay.timings(), replay.duration_s(), drivelm::benchmarks::Slo{});
    PrintLatency(metrics);
    nlohmann::json latency = drivelm::benchmarks::LoadMetricsJson(metrics);
    latency.erase("request_goodput");
    latency.erase("question_goodput");
    latency.erase("errors");
    latency.erase("question_errors");
    summary["latency"] = latency;
    summary["answered"] = replay.answered();
    summary["failed"] = replay.failed();
    summary["errors"] = replay.errors();
    if (replay.interrupted()) {
      summary["interrupted"] = true;
      WriteSummary(summary);
      return kExitInterrupted;
    }
    if (replay.failed() > 0) code = kExitFailed;
  } else {
    std::fprintf(stderr, "drivelm_eval: nothing to ask: every question is already in %s\n",
                 out.c_str());
  }

  if (!absl::GetFlag(FLAGS_no_score)) {
    if (!drivelm::clients::HasAnswersAndTags(*frames)) {
      std::fprintf(stderr,
                   "drivelm_eval: not scoring: %s has no answers and tags (a test-layout file); "
                   "submit %s to the challenge server or score it with --score_only --gt\n",
                   data.c_str(), out.c_str());
    } else if (code != kExitOk) {
      std::fprintf(stderr,
                   "drivelm_eval: not scoring: some questions have no answer yet; rerun "
                   "to retry them\n");
    } else if (const int s = Score(data, out, judge->get(), &summary); s != kExitOk) {
      code = s;
    }
  }
  const int written = WriteSummary(summary);
  return code != kExitOk ? code : written;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Replays a DriveLM file against drivelm_server and scores it: drivelm_eval --server ADDR "
      "--data FILE --images_root DIR --out PRED.json [--concurrency N] [--summary_json F]; or "
      "drivelm_eval --score_only --pred P --gt G");
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(kExitUsage, absl::StrCat("unexpected argument '", rest[1], "'"));
  return absl::GetFlag(FLAGS_score_only) ? RunScoreOnly() : RunReplay();
}
