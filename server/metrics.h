// ServerMetrics: the Prometheus series of the serving path (DESIGN.md §7), prefixed drivelm_,
// named after vLLM's so dashboards translate. The registry is shared with the /metrics exposer
// (server/grpc_server owns that); this class only creates and updates series.
//
// Accounting: one Answer RPC carries a scene and several questions. Each question is one
// generated sequence, the unit vLLM counts, so per-sequence series are per question; the scene's
// image work is shared by its questions and counted once per request:
//   per request (RecordRequestEnd): requests_total{code}, e2e_request_latency_seconds,
//     request_queue_time_seconds, request_image_decode_time_seconds,
//     request_vision_time_seconds, flops_total{phase="vision"}, request_flops (vision once +
//     every question's prefill and decode);
//   per question (RecordQuestionDone): request_success_total{finish_reason},
//     time_to_first_token_seconds, inter_token_latency_seconds, request_prefill_time_seconds,
//     request_decode_time_seconds, prompt_tokens_total, generation_tokens_total,
//     flops_total{phase="prefill"|"decode"};
//   from engine->stats() (SetEngineStats): gauges num_requests_running, num_requests_waiting,
//     num_sequences_running, num_sequences_waiting (questions in / waiting for the batch),
//     kv_cache_usage_ratio; counters that follow the engine's totals: num_preemptions_total,
//     prefix_cache_{queries,hits}_total (tokens), vision_cache_{queries,hits}_total (images),
//     flops_saved_total{mechanism="vision_cache"|"prefix_cache"}.
// inter_token_latency_seconds: the engine reports each question's decode time, not per-token
// stamps, so each question adds (generated_tokens - 1) observations of its mean gap
// decode_s / (generated_tokens - 1): sum and count are exact, buckets hold per-question means.
//
// Thread-safety: every method may be called concurrently (prometheus-cpp metrics are atomic or
// locked; family Add() is locked).
#ifndef DRIVELM_SERVER_METRICS_H_
#define DRIVELM_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/engine.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace drivelm::server {

// What one Answer RPC did, accumulated from its questions' kDone events (for the metrics and
// the request's log line).
struct RequestTally {
  int questions_done = 0;
  int questions_failed = 0;  // kDone with a non-OK status
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  // The scene's share (the same on every question's usage), from the first kDone event.
  bool has_scene = false;
  double queue_s = 0;
  double image_decode_s = 0;
  double vision_s = 0;
  double vision_flops = 0;
  // Sums over questions.
  double prefill_s = 0;
  double decode_s = 0;
  double prefill_flops = 0;
  double decode_flops = 0;
  double first_ttft_s = -1;  // the earliest question's TTFT; < 0: no token was generated

  void Add(const engine::AnswerEvent& done);  // a kDone event; deltas are ignored
  double total_flops() const { return vision_flops + prefill_flops + decode_flops; }
};

class ServerMetrics {
 public:
  explicit ServerMetrics(std::shared_ptr<prometheus::Registry> registry);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // A question's kDone event (deltas are ignored).
  void RecordQuestionDone(const engine::AnswerEvent& done);
  // An Answer RPC ended with `code` after `e2e_s` seconds; `tally` holds its questions.
  void RecordRequestEnd(grpc::StatusCode code, double e2e_s, const RequestTally& tally);
  void SetEngineStats(const engine::EngineStats& stats);

  // Bucket boundaries (seconds / FLOPs), exposed for tests.
  static std::vector<double> LatencyBuckets();  // 0.5 ms .. 80 s
  static std::vector<double> TokenLatencyBuckets();  // 0.1 ms .. 2.5 s
  static std::vector<double> FlopsBuckets();  // 1e6 .. 1e16

 private:
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>& requests_total_;
  prometheus::Family<prometheus::Counter>& request_success_total_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& itl_;
  std::vector<double> itl_buckets_;
  prometheus::Histogram& e2e_;
  prometheus::Histogram& queue_time_;
  prometheus::Histogram& prefill_time_;
  prometheus::Histogram& decode_time_;
  prometheus::Histogram& vision_time_;
  prometheus::Histogram& image_decode_time_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Gauge& running_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& running_sequences_;
  prometheus::Gauge& waiting_sequences_;
  prometheus::Gauge& kv_cache_usage_;
  prometheus::Counter& preemptions_;
  prometheus::Counter& prefix_cache_queries_;
  prometheus::Counter& prefix_cache_hits_;
  prometheus::Counter& vision_cache_queries_;
  prometheus::Counter& vision_cache_hits_;
  prometheus::Family<prometheus::Counter>& flops_saved_total_;
  prometheus::Counter& flops_saved_vision_cache_;
  prometheus::Counter& flops_saved_prefix_cache_;
  // The engine's totals at the last SetEngineStats, so counters advance by the difference.
  absl::Mutex totals_mu_;
  engine::EngineStats last_totals_ ABSL_GUARDED_BY(totals_mu_);
  prometheus::Family<prometheus::Counter>& flops_total_;
  prometheus::Counter& flops_vision_;
  prometheus::Counter& flops_prefill_;
  prometheus::Counter& flops_decode_;
  prometheus::Histogram& request_flops_;
};

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_METRICS_H_
