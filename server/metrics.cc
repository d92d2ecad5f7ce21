#include "server/metrics.h"

#include <algorithm>
#include <string>
#include <utility>

#include "engine/finish_reason.h"
#include "server/status_mapping.h"

namespace drivelm::server {
namespace {

prometheus::Histogram& AddHistogram(prometheus::Registry& registry, const std::string& name,
                                    const std::string& help, const std::vector<double>& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
}

prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

// Prometheus counters only go up; a negative or NaN amount (a clock oddity) is dropped.
void Increment(prometheus::Counter& counter, double amount) {
  if (amount > 0) counter.Increment(amount);
}

}  // namespace

void RequestTally::Add(const engine::AnswerEvent& done) {
  if (done.kind != engine::AnswerEvent::Kind::kDone) return;
  const engine::QuestionUsage& usage = done.usage;
  ++questions_done;
  if (!done.status.ok()) ++questions_failed;
  prompt_tokens += usage.prompt_tokens;
  generated_tokens += usage.generated_tokens;
  if (!has_scene) {
    has_scene = true;
    queue_s = usage.queue_s;
    image_decode_s = usage.image_decode_s;
    vision_s = usage.vision_s;
    vision_flops = usage.flops.vision;
  }
  prefill_s += usage.prefill_s;
  decode_s += usage.decode_s;
  prefill_flops += usage.flops.prefill;
  decode_flops += usage.flops.decode;
  if (usage.generated_tokens > 0 && (first_ttft_s < 0 || usage.ttft_s < first_ttft_s)) {
    first_ttft_s = usage.ttft_s;
  }
}

std::vector<double> ServerMetrics::LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,    1.0,   2.5,    5.0,   10.0, 20.0,  40.0, 80.0};
}

std::vector<double> ServerMetrics::TokenLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.075,   0.1,    0.15,  0.25,   0.5,   1.0,  2.5};
}

std::vector<double> ServerMetrics::FlopsBuckets() {
  std::vector<double> buckets;
  for (double b = 1e6; b <= 1e16; b *= 10) {
    buckets.push_back(b);
    if (b < 1e16) buckets.push_back(b * 3);
  }
  return buckets;
}

ServerMetrics::ServerMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      requests_total_(prometheus::BuildCounter()
                          .Name("drivelm_requests_total")
                          .Help("Answer RPCs finished, by gRPC status code.")
                          .Register(*registry_)),
      request_success_total_(
          prometheus::BuildCounter()
              .Name("drivelm_request_success_total")
              .Help("Questions (generated sequences) finished, by finish reason "
                    "(stop, length, abort).")
              .Register(*registry_)),
      ttft_(AddHistogram(*registry_, "drivelm_time_to_first_token_seconds",
                         "Submission to a question's first generated token.",
                         LatencyBuckets())),
      itl_(AddHistogram(*registry_, "drivelm_inter_token_latency_seconds",
                        "Time between consecutive generated tokens (each question adds its "
                        "mean gap once per gap).",
                        TokenLatencyBuckets())),
      itl_buckets_(TokenLatencyBuckets()),
      e2e_(AddHistogram(*registry_, "drivelm_e2e_request_latency_seconds",
                        "Answer RPC latency, arrival to end of stream.", LatencyBuckets())),
      queue_time_(AddHistogram(*registry_, "drivelm_request_queue_time_seconds",
                               "Submission to the start of the scene's image work, per request.",
                               LatencyBuckets())),
      prefill_time_(AddHistogram(*registry_, "drivelm_request_prefill_time_seconds",
                                 "Prefill time of a question.", LatencyBuckets())),
      decode_time_(AddHistogram(*registry_, "drivelm_request_decode_time_seconds",
                                "Decode time of a question after its first token.",
                                LatencyBuckets())),
      vision_time_(AddHistogram(*registry_, "drivelm_request_vision_time_seconds",
                                "Vision encoder time of a request's scene (once per request).",
                                LatencyBuckets())),
      image_decode_time_(AddHistogram(
          *registry_, "drivelm_request_image_decode_time_seconds",
          "Image decode + resize + normalize time of a request's scene (once per request).",
          LatencyBuckets())),
      prompt_tokens_(AddCounter(*registry_, "drivelm_prompt_tokens_total",
                                "Prompt tokens processed (image tokens included).")),
      generation_tokens_(AddCounter(*registry_, "drivelm_generation_tokens_total",
                                    "Tokens generated.")),
      running_(AddGauge(*registry_, "drivelm_num_requests_running",
                        "Requests the engine is working on.")),
      waiting_(AddGauge(*registry_, "drivelm_num_requests_waiting",
                        "Requests waiting in the engine's queue.")),
      running_sequences_(AddGauge(*registry_, "drivelm_num_sequences_running",
                                  "Questions in the engine's running batch.")),
      waiting_sequences_(AddGauge(*registry_, "drivelm_num_sequences_waiting",
                                  "Questions of admitted requests waiting for KV blocks or a "
                                  "batch slot.")),
      kv_cache_usage_(AddGauge(*registry_, "drivelm_kv_cache_usage_ratio",
                               "Fraction of the paged KV cache's blocks in use.")),
      preemptions_(AddCounter(*registry_, "drivelm_num_preemptions_total",
                              "Sequences preempted to free KV blocks.")),
      prefix_cache_queries_(AddCounter(*registry_, "drivelm_prefix_cache_queries_total",
                                       "Prompt tokens looked up in the prefix cache.")),
      prefix_cache_hits_(AddCounter(*registry_, "drivelm_prefix_cache_hits_total",
                                    "Prompt tokens found in the prefix cache.")),
      vision_cache_queries_(AddCounter(*registry_, "drivelm_vision_cache_queries_total",
                                       "Images looked up in the vision-embedding cache.")),
      vision_cache_hits_(AddCounter(*registry_, "drivelm_vision_cache_hits_total",
                                    "Images found in the vision-embedding cache.")),
      flops_saved_total_(prometheus::BuildCounter()
                             .Name("drivelm_flops_saved_total")
                             .Help("Floating-point operations not run thanks to a mechanism "
                                   "(vision_cache: encoder; prefix_cache: prefill).")
                             .Register(*registry_)),
      flops_saved_vision_cache_(flops_saved_total_.Add({{"mechanism", "vision_cache"}})),
      flops_saved_prefix_cache_(flops_saved_total_.Add({{"mechanism", "prefix_cache"}})),
      flops_total_(prometheus::BuildCounter()
                       .Name("drivelm_flops_total")
                       .Help("Floating-point operations run, by phase (vision once per "
                             "request's scene).")
                       .Register(*registry_)),
      flops_vision_(flops_total_.Add({{"phase", "vision"}})),
      flops_prefill_(flops_total_.Add({{"phase", "prefill"}})),
      flops_decode_(flops_total_.Add({{"phase", "decode"}})),
      request_flops_(AddHistogram(*registry_, "drivelm_request_flops",
                                  "Floating-point operations of one request (vision once, "
                                  "every question's prefill and decode).",
                                  FlopsBuckets())) {
  // Pre-create the common codes and the finish reasons so dashboards see zeros rather than
  // absent series (rate() over a series that appears later misses its first increments).
  for (grpc::StatusCode code :
       {grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT,
        grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::UNAVAILABLE,
        grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::CANCELLED,
        grpc::StatusCode::INTERNAL}) {
    requests_total_.Add({{"code", GrpcCodeName(code)}});
  }
  for (engine::FinishReason reason :
       {engine::FinishReason::kStop, engine::FinishReason::kLength, engine::FinishReason::kAbort}) {
    request_success_total_.Add({{"finish_reason", engine::FinishReasonName(reason)}});
  }
}

void ServerMetrics::RecordQuestionDone(const engine::AnswerEvent& done) {
  if (done.kind != engine::AnswerEvent::Kind::kDone) return;
  const engine::QuestionUsage& usage = done.usage;
  request_success_total_.Add({{"finish_reason", engine::FinishReasonName(done.finish_reason)}})
      .Increment();
  Increment(prompt_tokens_, static_cast<double>(usage.prompt_tokens));
  Increment(generation_tokens_, static_cast<double>(usage.generated_tokens));
  Increment(flops_prefill_, usage.flops.prefill);
  Increment(flops_decode_, usage.flops.decode);
  if (usage.generated_tokens <= 0) return;  // never ran (cancelled, failed): no phase times
  ttft_.Observe(usage.ttft_s);
  prefill_time_.Observe(usage.prefill_s);
  decode_time_.Observe(usage.decode_s);
  const int64_t gaps = usage.generated_tokens - 1;
  if (gaps > 0) {
    const double mean = usage.decode_s / static_cast<double>(gaps);
    // Prometheus buckets are upper-inclusive: the first bound >= mean, else +Inf.
    const size_t bucket = static_cast<size_t>(
        std::lower_bound(itl_buckets_.begin(), itl_buckets_.end(), mean) - itl_buckets_.begin());
    std::vector<double> increments(itl_buckets_.size() + 1, 0.0);
    increments[bucket] = static_cast<double>(gaps);
    itl_.ObserveMultiple(increments, usage.decode_s);
  }
}

void ServerMetrics::RecordRequestEnd(grpc::StatusCode code, double e2e_s,
                                     const RequestTally& tally) {
  requests_total_.Add({{"code", GrpcCodeName(code)}}).Increment();
  e2e_.Observe(e2e_s);
  if (!tally.has_scene) return;  // refused or cancelled before any question ended
  queue_time_.Observe(tally.queue_s);
  if (tally.image_decode_s > 0 || tally.vision_s > 0) {
    image_decode_time_.Observe(tally.image_decode_s);
    vision_time_.Observe(tally.vision_s);
  }
  Increment(flops_vision_, tally.vision_flops);
  request_flops_.Observe(tally.total_flops());
}

void ServerMetrics::SetEngineStats(const engine::EngineStats& stats) {
  running_.Set(static_cast<double>(stats.running));
  waiting_.Set(static_cast<double>(stats.waiting));
  running_sequences_.Set(static_cast<double>(stats.running_sequences));
  waiting_sequences_.Set(static_cast<double>(stats.waiting_sequences));
  kv_cache_usage_.Set(stats.kv_cache_usage_ratio);
  // The engine reports totals since its start; counters advance by what is new. A total that
  // went down (a new engine) starts a new baseline.
  absl::MutexLock lock(&totals_mu_);
  engine::EngineStats& last = last_totals_;
  auto advance = [](prometheus::Counter& counter, double now, double& before) {
    if (now > before) counter.Increment(now - before);
    before = now;
  };
  double preemptions = static_cast<double>(last.num_preemptions);
  double prefix_queries = static_cast<double>(last.prefix_cache_queries);
  double prefix_hits = static_cast<double>(last.prefix_cache_hits);
  double vision_queries = static_cast<double>(last.vision_cache_queries);
  double vision_hits = static_cast<double>(last.vision_cache_hits);
  advance(preemptions_, static_cast<double>(stats.num_preemptions), preemptions);
  advance(prefix_cache_queries_, static_cast<double>(stats.prefix_cache_queries), prefix_queries);
  advance(prefix_cache_hits_, static_cast<double>(stats.prefix_cache_hits), prefix_hits);
  advance(vision_cache_queries_, static_cast<double>(stats.vision_cache_queries), vision_queries);
  advance(vision_cache_hits_, static_cast<double>(stats.vision_cache_hits), vision_hits);
  advance(flops_saved_vision_cache_, stats.flops_saved_vision, last.flops_saved_vision);
  advance(flops_saved_prefix_cache_, stats.flops_saved_prefix, last.flops_saved_prefix);
  last.num_preemptions = stats.num_preemptions;
  last.prefix_cache_queries = stats.prefix_cache_queries;
  last.prefix_cache_hits = stats.prefix_cache_hits;
  last.vision_cache_queries = stats.vision_cache_queries;
  last.vision_cache_hits = stats.vision_cache_hits;
}

}  // namespace drivelm::server
