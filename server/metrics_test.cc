#include "server/metrics.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace drivelm::server {
namespace {

using ::testing::HasSubstr;

engine::AnswerEvent Done(const std::string& id, engine::FinishReason reason, int64_t prompt,
                         int64_t generated, double decode_s) {
  engine::AnswerEvent done;
  done.kind = engine::AnswerEvent::Kind::kDone;
  done.question_id = id;
  done.finish_reason = reason;
  done.usage.prompt_tokens = prompt;
  done.usage.generated_tokens = generated;
  done.usage.queue_s = 0.002;
  done.usage.image_decode_s = 0.004;
  done.usage.vision_s = 0.030;  // the scene's: the same on every question
  done.usage.prefill_s = 0.020;
  done.usage.decode_s = decode_s;
  done.usage.ttft_s = 0.060;
  done.usage.flops.vision = 1e9;
  done.usage.flops.prefill = 2e8;
  done.usage.flops.decode = 5e7;
  return done;
}

std::string Scrape(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

class MetricsTest : public ::testing::Test {
 protected:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  ServerMetrics metrics_{registry_};
};

TEST_F(MetricsTest, SeriesExistBeforeAnyRequest) {
  const std::string text = Scrape(*registry_);
  for (const char* name :
       {"drivelm_requests_total", "drivelm_request_success_total",
        "drivelm_time_to_first_token_seconds", "drivelm_inter_token_latency_seconds",
        "drivelm_e2e_request_latency_seconds", "drivelm_request_queue_time_seconds",
        "drivelm_request_prefill_time_seconds", "drivelm_request_decode_time_seconds",
        "drivelm_request_vision_time_seconds", "drivelm_request_image_decode_time_seconds",
        "drivelm_prompt_tokens_total", "drivelm_generation_tokens_total",
        "drivelm_num_requests_running", "drivelm_num_requests_waiting", "drivelm_flops_total",
        "drivelm_request_flops"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + name + " ")) << name;
  }
  EXPECT_THAT(text, HasSubstr("drivelm_request_success_total{finish_reason=\"stop\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_success_total{finish_reason=\"abort\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_flops_total{phase=\"vision\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"OK\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"RESOURCE_EXHAUSTED\"} 0"));
}

TEST_F(MetricsTest, OneRequestWithTwoQuestions) {
  RequestTally tally;
  const engine::AnswerEvent q1 = Done("q1", engine::FinishReason::kStop, 100, 5, 0.040);
  const engine::AnswerEvent q2 = Done("q2", engine::FinishReason::kLength, 120, 9, 0.080);
  for (const engine::AnswerEvent* done : {&q1, &q2}) {
    metrics_.RecordQuestionDone(*done);
    tally.Add(*done);
  }
  metrics_.RecordRequestEnd(grpc::StatusCode::OK, 0.25, tally);
  metrics_.SetEngineStats(engine::EngineStats{/*waiting=*/3, /*running=*/1});

  EXPECT_EQ(tally.questions_done, 2);
  EXPECT_EQ(tally.prompt_tokens, 220);
  EXPECT_EQ(tally.generated_tokens, 14);
  EXPECT_DOUBLE_EQ(tally.vision_flops, 1e9);  // once, not per question
  EXPECT_DOUBLE_EQ(tally.total_flops(), 1e9 + 2 * 2e8 + 2 * 5e7);

  const std::string text = Scrape(*registry_);
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"OK\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_success_total{finish_reason=\"stop\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_success_total{finish_reason=\"length\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_prompt_tokens_total 220"));
  EXPECT_THAT(text, HasSubstr("drivelm_generation_tokens_total 14"));
  EXPECT_THAT(text, HasSubstr("drivelm_num_requests_running 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_num_requests_waiting 3"));
  // Vision counted once per request; prefill and decode per question.
  EXPECT_THAT(text, HasSubstr("drivelm_flops_total{phase=\"vision\"} 1000000000"));
  EXPECT_THAT(text, HasSubstr("drivelm_flops_total{phase=\"prefill\"} 400000000"));
  EXPECT_THAT(text, HasSubstr("drivelm_flops_total{phase=\"decode\"} 100000000"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_flops_count 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_flops_sum 1500000000"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_vision_time_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_vision_time_seconds_sum 0.03"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_queue_time_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_e2e_request_latency_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_e2e_request_latency_seconds_sum 0.25"));
  EXPECT_THAT(text, HasSubstr("drivelm_e2e_request_latency_seconds_bucket{le=\"0.25\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_e2e_request_latency_seconds_bucket{le=\"0.1\"} 0"));
  // Per question.
  EXPECT_THAT(text, HasSubstr("drivelm_time_to_first_token_seconds_count 2"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_prefill_time_seconds_count 2"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_decode_time_seconds_count 2"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_decode_time_seconds_sum 0.12"));
  // ITL: (5-1) + (9-1) = 12 gaps; sum = total decode time; q1's gaps are 10 ms, q2's 10 ms.
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_count 12"));
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_sum 0.12"));
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_bucket{le=\"0.005\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_bucket{le=\"0.01\"} 12"));
}

TEST_F(MetricsTest, RefusedAndCancelledRequests) {
  metrics_.RecordRequestEnd(grpc::StatusCode::INVALID_ARGUMENT, 0.001, RequestTally{});
  metrics_.RecordRequestEnd(grpc::StatusCode::RESOURCE_EXHAUSTED, 0.001, RequestTally{});
  metrics_.RecordRequestEnd(grpc::StatusCode::RESOURCE_EXHAUSTED, 0.001, RequestTally{});

  // Cancelled while queued: every question ends with kAbort and no tokens.
  RequestTally cancelled;
  engine::AnswerEvent aborted;
  aborted.kind = engine::AnswerEvent::Kind::kDone;
  aborted.question_id = "q1";
  aborted.finish_reason = engine::FinishReason::kAbort;
  aborted.usage.queue_s = 0.5;
  aborted.status = absl::CancelledError("request cancelled");
  metrics_.RecordQuestionDone(aborted);
  cancelled.Add(aborted);
  metrics_.RecordRequestEnd(grpc::StatusCode::CANCELLED, 0.6, cancelled);
  EXPECT_EQ(cancelled.questions_failed, 1);
  EXPECT_LT(cancelled.first_ttft_s, 0);

  const std::string text = Scrape(*registry_);
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"INVALID_ARGUMENT\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"RESOURCE_EXHAUSTED\"} 2"));
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"CANCELLED\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"OK\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_success_total{finish_reason=\"abort\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_e2e_request_latency_seconds_count 4"));
  // Queue time is known for the cancelled one; it never reached image work or a token.
  EXPECT_THAT(text, HasSubstr("drivelm_request_queue_time_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_vision_time_seconds_count 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_time_to_first_token_seconds_count 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_count 0"));
}

TEST_F(MetricsTest, SlowTokensLandInTheOverflowBucket) {
  // 3 tokens, 2 gaps of 5 s: over the last bound (2.5 s), so only +Inf counts them.
  metrics_.RecordQuestionDone(Done("q", engine::FinishReason::kStop, 10, 3, 10.0));
  const std::string text = Scrape(*registry_);
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_bucket{le=\"2.5\"} 0"));
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_THAT(text, HasSubstr("drivelm_inter_token_latency_seconds_count 2"));
}

TEST_F(MetricsTest, BucketsAreIncreasingAndSpanTheRanges) {
  for (const auto& buckets : {ServerMetrics::LatencyBuckets(), ServerMetrics::TokenLatencyBuckets(),
                              ServerMetrics::FlopsBuckets()}) {
    ASSERT_FALSE(buckets.empty());
    for (size_t i = 1; i < buckets.size(); ++i) EXPECT_LT(buckets[i - 1], buckets[i]);
  }
  EXPECT_LE(ServerMetrics::LatencyBuckets().front(), 0.001);
  EXPECT_GE(ServerMetrics::LatencyBuckets().back(), 60.0);
  EXPECT_LE(ServerMetrics::FlopsBuckets().front(), 1e6);
  EXPECT_GE(ServerMetrics::FlopsBuckets().back(), 1e15);
}

TEST_F(MetricsTest, EngineTotalsAdvanceCounters) {
  engine::EngineStats stats;
  stats.running = 2;
  stats.waiting = 5;
  stats.running_sequences = 7;
  stats.waiting_sequences = 1;
  stats.kv_cache_usage_ratio = 0.25;
  stats.num_preemptions = 3;
  stats.prefix_cache_queries = 1000;
  stats.prefix_cache_hits = 400;
  stats.vision_cache_queries = 12;
  stats.vision_cache_hits = 6;
  stats.flops_saved_vision = 5e9;
  stats.flops_saved_prefix = 2e9;
  metrics_.SetEngineStats(stats);
  metrics_.SetEngineStats(stats);  // the same totals again: no double counting
  stats.num_preemptions = 4;
  stats.prefix_cache_queries = 1500;
  stats.flops_saved_vision = 6e9;
  metrics_.SetEngineStats(stats);

  const std::string text = Scrape(*registry_);
  EXPECT_THAT(text, HasSubstr("drivelm_num_requests_running 2"));
  EXPECT_THAT(text, HasSubstr("drivelm_num_requests_waiting 5"));
  EXPECT_THAT(text, HasSubstr("drivelm_num_sequences_running 7"));
  EXPECT_THAT(text, HasSubstr("drivelm_num_sequences_waiting 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_kv_cache_usage_ratio 0.25"));
  EXPECT_THAT(text, HasSubstr("drivelm_num_preemptions_total 4"));
  EXPECT_THAT(text, HasSubstr("drivelm_prefix_cache_queries_total 1500"));
  EXPECT_THAT(text, HasSubstr("drivelm_prefix_cache_hits_total 400"));
  EXPECT_THAT(text, HasSubstr("drivelm_vision_cache_queries_total 12"));
  EXPECT_THAT(text, HasSubstr("drivelm_vision_cache_hits_total 6"));
  EXPECT_THAT(text, HasSubstr("drivelm_flops_saved_total{mechanism=\"vision_cache\"} 6000000000"));
  EXPECT_THAT(text, HasSubstr("drivelm_flops_saved_total{mechanism=\"prefix_cache\"} 2000000000"));

  // A new engine starts its totals at zero: a new baseline, the counters never go down.
  engine::EngineStats fresh;
  fresh.num_preemptions = 1;
  metrics_.SetEngineStats(fresh);
  metrics_.SetEngineStats(fresh);
  fresh.num_preemptions = 2;
  metrics_.SetEngineStats(fresh);
  EXPECT_THAT(Scrape(*registry_), HasSubstr("drivelm_num_preemptions_total 5"));
}

TEST_F(MetricsTest, TwoInstancesOnOneRegistryShareSeries) {
  // Registry::InsertBehavior::Merge (the default) returns the existing families.
  ServerMetrics second(registry_);
  metrics_.RecordRequestEnd(grpc::StatusCode::OK, 0.1, RequestTally{});
  second.RecordRequestEnd(grpc::StatusCode::OK, 0.1, RequestTally{});
  EXPECT_THAT(Scrape(*registry_), HasSubstr("drivelm_requests_total{code=\"OK\"} 2"));
}

}  // namespace
}  // namespace drivelm::server
