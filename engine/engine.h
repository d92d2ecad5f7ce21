// Engine: the serving core behind the gRPC service. Takes scene requests (camera images and a
// graph of questions), runs them on its own engine thread, and streams answer events back.
// No proto or gRPC types here: server/ converts at its boundary.
//
// Flow: Submit() validates the request (cameras against the profile, question ids, the
// depends_on graph, limits) and queues it, or refuses it (InvalidArgument for bad input,
// ResourceExhausted when the queue is full, Unavailable after Shutdown()). The engine thread
// takes requests in FCFS order (higher priority first), decodes and encodes the scene's images
// once, then answers its questions: a question runs once every question it depends on has
// finished, with their questions and answers as context. Events go to the request's
// RequestStream as they happen.
//
// Threading: Submit/Cancel/Shutdown and RequestStream methods may be called from any thread.
// Model compute happens only on the engine thread (the backend is not re-entrant).
#ifndef DRIVELM_ENGINE_ENGINE_H_
#define DRIVELM_ENGINE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/finish_reason.h"
#include "engine/cache/kv_cache_manager.h"
#include "engine/cache/vision_cache.h"
#include "engine/generator.h"
#include "engine/model_runner.h"
#include "engine/sampling_params.h"
#include "engine/scheduler.h"

namespace drivelm::engine {

// DriveLM's question stages (the graph's levels).
enum class QuestionStage { kUnspecified, kPerception, kPrediction, kPlanning, kBehavior };
const char* QuestionStageName(QuestionStage stage);

struct QuestionSpec {
  std::string id;                       // unique within the request, non-empty
  std::string text;                     // non-empty
  QuestionStage stage = QuestionStage::kUnspecified;
  std::vector<std::string> depends_on;  // ids of other questions of the request (any position)
};

struct SceneRequest {
  std::string request_id;  // for logs and metrics; the engine does not interpret it
  std::string scene_id;
  std::vector<CameraImage> images;
  std::vector<QuestionSpec> questions;
  std::optional<SamplingParams> sampling;  // absent: the model profile's
  std::optional<int> max_new_tokens;       // absent: the profile's
  std::vector<std::string> stop_strings;
  int priority = 0;                        // higher runs first; FCFS within a priority
  absl::Time deadline = absl::InfiniteFuture();
};

// Per-question accounting, reported with its final event.
struct QuestionUsage {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double queue_s = 0;         // Submit() to the start of the scene's image work
  double image_decode_s = 0;  // the scene's, shared by its questions
  double vision_s = 0;        // the scene's, shared by its questions
  double prefill_s = 0;
  double decode_s = 0;
  double ttft_s = 0;          // Submit() to this question's first token
  PhaseFlops flops;           // vision: the scene's encode, counted once on every question
};

struct AnswerEvent {
  enum class Kind {
    kDelta,  // `text` is the next UTF-8-complete piece of the answer
    kDone,   // the question finished: finish_reason, usage, status
  };
  Kind kind = Kind::kDelta;
  std::string question_id;
  std::string text;
  FinishReason finish_reason = FinishReason::kStop;
  QuestionUsage usage;
  absl::Status status;  // kDone: OK, or why the question failed (e.g. a parent failed)
};

// The event stream of one submitted request. Every question gets exactly one kDone event; deltas
// of a question come before its kDone, in order. After all kDone events, Next() returns false
// and final_status() says how the request ended (OK, Cancelled, DeadlineExceeded, or an error).
class RequestStream {
 public:
  // Blocks until an event is available (true) or the stream has ended (false), or `timeout`
  // passes (false with timed_out set). A stream may be drained from one thread only.
  bool Next(AnswerEvent* event, absl::Duration timeout, bool* timed_out = nullptr);
  // Asks the engine to stop this request; pending questions finish with kAbort and status
  // Cancelled. Idempotent; safe from any thread.
  void Cancel();
  bool cancelled() const;
  absl::Status final_status() const;

  // ---- Engine side ----
  void Push(AnswerEvent event);
  void Close(absl::Status status);

 private:
  mutable absl::Mutex mu_;
  std::deque<AnswerEvent> events_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

struct EngineOptions {
  int max_queued_requests = 64;       // beyond: ResourceExhausted
  int max_questions_per_request = 64;
  int max_images_per_request = 6;     // beyond: InvalidArgument
  int max_new_tokens_limit = 1024;    // per question
  int max_question_bytes = 4096;
  // The options the generator was loaded with (Submit() checks image headers against the
  // generator's own max_pixels).
  GeneratorOptions generator;
  // ---- Batching (engine/scheduler.h) ----
  SchedulerConfig scheduler;
  int max_active_requests = 32;              // requests whose questions are in the scheduler
  int64_t kv_cache_bytes = int64_t{256} << 20;  // paged KV pool (all layers, K and V)
  int32_t kv_block_size = 16;
  bool enable_prefix_caching = true;
  int64_t vision_cache_bytes = int64_t{256} << 20;  // 0 turns the vision cache off
  int64_t vision_cache_entries = 4096;
};

struct EngineStats {
  int64_t waiting = 0;  // queued requests (not yet admitted)
  int64_t running = 0;  // admitted requests (images encoded, questions in the scheduler)
  int64_t waiting_sequences = 0;  // questions waiting for KV blocks / a batch slot
  int64_t running_sequences = 0;  // questions in the running batch
  double kv_cache_usage_ratio = 0;
  int64_t num_preemptions = 0;          // totals since start
  int64_t prefix_cache_queries = 0;     // tokens looked up
  int64_t prefix_cache_hits = 0;        // tokens found
  int64_t vision_cache_queries = 0;     // images looked up
  int64_t vision_cache_hits = 0;        // images found
  int64_t steps = 0;                    // forward passes of the scheduler
  int64_t step_tokens = 0;              // tokens those passes computed (prefill + decode)
  int64_t step_sequences = 0;           // sequences in those passes (summed batch sizes)
  // Engine-thread seconds since start, for the scheduler-overhead figure: busy time outside
  // admission and forward passes is the host-side cost of batching (planning, KV bookkeeping,
  // sampling, detokenizing, events).
  double busy_s = 0;   // the engine thread not waiting for work
  double admit_s = 0;  // admitting requests: image decode + vision encode (vision cache)
  double model_s = 0;  // forward passes (ModelRunner::Run, logits included)
  double flops_saved_vision = 0;        // encoder FLOPs the vision cache saved
  double flops_saved_prefix = 0;        // prefill FLOPs the prefix cache saved
};

class Engine {
 public:
  // Takes ownership of the generator (and so of the model); `backend` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(std::unique_ptr<Generator> generator,
                                                        const EngineOptions& options);
  ~Engine();  // Shutdown(absl::ZeroDuration()) if still running

  // Validates and queues the request. On OK the engine owns the work; the returned stream
  // carries its events. Images are not decoded here, but their headers are read: bytes that are
  // not JPEG/PNG, or an image over max_pixels, are InvalidArgument. A deadline already passed is
  // DeadlineExceeded.
  absl::StatusOr<std::shared_ptr<RequestStream>> Submit(SceneRequest request);

  // Refuses new requests (Unavailable), lets queued and running ones finish until `grace`
  // passes, then cancels the rest and joins the engine thread.
  void Shutdown(absl::Duration grace);

  EngineStats stats() const;
  const Generator& generator() const { return *generator_; }

 private:
  Engine(std::unique_ptr<Generator> generator, const EngineOptions& options);
  void Loop();

  struct Pending;  // a queued request with its stream and submit time
  struct Active;   // an admitted request: its encoded images and questions' progress
  struct Sequence;  // one question being answered (engine_loop.cc)

  // ---- Engine thread (engine_loop.cc) ----
  // Admits a request: encodes its images (vision cache), starts its ready questions.
  void Admit(std::unique_ptr<Pending> pending);
  // Starts question `q` of `a` as a scheduler sequence (its parents have answered).
  void StartQuestion(Active& a, int q);
  // Ends question `q` of `a` with `done` (kDone event); starts dependents; closes a finished
  // request.
  void FinishQuestion(Active& a, int q, AnswerEvent done);
  // Shared image prefix: the scene's image KV is ready; its held questions start.
  void ReleaseHeldQuestions(Active& a);
  // A kDone event for question `q` that ends without an answer.
  AnswerEvent AbortedEvent(const Active& a, int q, absl::Status status) const;
  // Stops requests that were cancelled, expired or aborted.
  void StopRequests();
  // One scheduler step: plan, run, sample, emit. False when nothing could run.
  bool Step();
  void PublishStats();
  // Why `pending` must stop (Cancelled, DeadlineExceeded, Unavailable after Shutdown's grace),
  // or OK. Each condition, once true, stays true.
  absl::Status StopStatus(const Pending& pending) const;
  // Takes cancelled and expired requests out of the queue and ends their streams, so they do not
  // hold queue slots while another request runs. Any thread; not under mu_.
  void PurgeQueue();

  // Ownership: a Pending is owned by exactly one place at a time (the queue, the engine thread
  // while it runs it, or whoever took it out of the queue to end it), and that owner closes its
  // stream: every stream is closed exactly once.
  std::unique_ptr<Generator> generator_;
  EngineOptions options_;
  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);  // priority desc, then FCFS
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // Set when Shutdown's grace has passed: whatever still runs stops (polled between forward
  // passes, so no lock on that path).
  std::atomic<bool> aborting_{false};
  absl::Time next_purge_ = absl::InfinitePast();  // engine thread only
  EngineStats published_ ABSL_GUARDED_BY(mu_);     // engine-thread gauges, for stats()

  // Engine thread only.
  std::optional<KvCacheManager> kv_manager_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<VisionCache> vision_cache_;
  std::vector<std::unique_ptr<Active>> active_;
  std::map<SeqId, std::unique_ptr<Sequence>> seqs_;
  SeqId next_seq_id_ = 1;
  int64_t next_arrival_ = 0;
  int64_t steps_ = 0;
  int64_t step_tokens_ = 0;
  int64_t step_sequences_ = 0;
  double busy_s_ = 0;
  double admit_s_ = 0;
  double model_s_ = 0;
  double flops_saved_vision_ = 0;
  double flops_saved_prefix_ = 0;
  absl::Mutex shutdown_mu_;  // serializes Shutdown() calls (the destructor's included)
  std::thread thread_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_ENGINE_H_
