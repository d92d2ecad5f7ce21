#include "benchmarks/load_stats.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::benchmarks {
namespace {

using ::testing::HasSubstr;

constexpr double kEps = 1e-9;

// Expected values below are computed by hand with numpy's linear rule:
// rank = p/100 * (n-1) over the sorted values, then interpolate.
TEST(PercentileTest, NumpyLinearInterpolation) {
  const std::vector<double> v = {4, 1, 3, 2};  // unsorted on purpose; sorted 1 2 3 4
  EXPECT_NEAR(Percentile(v, 0), 1, kEps);
  EXPECT_NEAR(Percentile(v, 50), 2.5, kEps);   // rank 1.5
  EXPECT_NEAR(Percentile(v, 90), 3.7, kEps);   // rank 2.7 -> 3 + 0.7 * 1
  EXPECT_NEAR(Percentile(v, 99), 3.97, kEps);  // rank 2.97
  EXPECT_NEAR(Percentile(v, 100), 4, kEps);
  EXPECT_NEAR(Percentile({10, 20}, 25), 12.5, kEps);  // rank 0.25
  EXPECT_NEAR(Percentile({5}, 99), 5, kEps);
  EXPECT_EQ(Percentile({}, 50), 0);          // vLLM: np.percentile(x or 0, p)
  EXPECT_NEAR(Percentile(v, 150), 4, kEps);  // clamped
}

TEST(SummarizeTest, MeanMedianPopulationStdPercentiles) {
  const Distribution d = Summarize({1, 2, 3, 4});
  EXPECT_EQ(d.count, 4u);
  EXPECT_NEAR(d.mean, 2.5, kEps);
  EXPECT_NEAR(d.median, 2.5, kEps);
  EXPECT_NEAR(d.std, std::sqrt(1.25), kEps);  // ((1.5^2 + 0.5^2) * 2) / 4
  EXPECT_NEAR(d.p90, 3.7, kEps);
  EXPECT_NEAR(d.p99, 3.97, kEps);
  const Distribution empty = Summarize({});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.mean, 0);
  EXPECT_EQ(empty.p99, 0);
}

TEST(QuestionTimingTest, TtftTpotItlE2e) {
  QuestionTiming q;
  q.ok = true;
  q.delta_s = {0.1, 0.15, 0.3};
  q.done_s = 0.32;
  q.generated_tokens = 5;
  EXPECT_NEAR(q.TtftS(), 0.1, kEps);
  EXPECT_NEAR(q.E2eS(), 0.32, kEps);
  ASSERT_TRUE(q.TpotS().has_value());
  EXPECT_NEAR(*q.TpotS(), (0.32 - 0.1) / 4, kEps);
  const std::vector<double> itl = q.ItlS();
  ASSERT_EQ(itl.size(), 2u);
  EXPECT_NEAR(itl[0], 0.05, kEps);
  EXPECT_NEAR(itl[1], 0.15, kEps);

  QuestionTiming empty_answer;  // EOS at once: no delta, one token
  empty_answer.done_s = 0.2;
  empty_answer.generated_tokens = 1;
  EXPECT_NEAR(empty_answer.TtftS(), 0.2, kEps);
  EXPECT_FALSE(empty_answer.TpotS().has_value());
  EXPECT_TRUE(empty_answer.ItlS().empty());
}

TEST(SloTest, Parse) {
  absl::StatusOr<Slo> slo = ParseSlo("ttft=500,tpot=50,e2e=2000");
  ASSERT_TRUE(slo.ok()) << slo.status();
  EXPECT_EQ(slo->ttft_ms, 500);
  EXPECT_EQ(slo->tpot_ms, 50);
  EXPECT_EQ(slo->e2e_ms, 2000);
  slo = ParseSlo(" e2el=1.5 ");
  ASSERT_TRUE(slo.ok()) << slo.status();
  EXPECT_FALSE(slo->ttft_ms.has_value());
  EXPECT_EQ(slo->e2e_ms, 1.5);
  ASSERT_TRUE(ParseSlo("").ok());
  EXPECT_TRUE(ParseSlo("")->empty());
  EXPECT_THAT(ParseSlo("ttft=0").status().message(), HasSubstr("'ttft=0'"));
  EXPECT_THAT(ParseSlo("ttft=abc").status().message(), HasSubstr("positive number"));
  EXPECT_THAT(ParseSlo("ttft").status().message(), HasSubstr("KEY=MILLISECONDS"));
  EXPECT_THAT(ParseSlo("foo=1").status().message(), HasSubstr("unknown key 'foo'"));
  EXPECT_THAT(ParseSlo("ttft=1,ttft=2").status().message(), HasSubstr("given twice"));
}

QuestionTiming Question(std::vector<double> deltas, double done, int64_t prompt, int64_t generated,
                        int status = 0) {
  QuestionTiming q;
  q.ok = status == 0;
  q.status_code = status;
  q.delta_s = std::move(deltas);
  q.done_s = done;
  q.prompt_tokens = prompt;
  q.generated_tokens = generated;
  return q;
}

// Four requests over 2 s:
//   R1 ok    send 0, end 0.5: q1 deltas .1 .2, done .25, 100+3 tokens (TTFT 100, E2E 250,
//            TPOT 75, ITL 100); q2 delta .2, done .5, 110+1 tokens (TTFT 200, E2E 500).
//   R2 ok    send 1, end 1.4: q3 deltas .3 .35 .4, done .4, 100+4 (TTFT 300, E2E 400,
//            TPOT 33.33, ITL 50 50).
//   R3 RESOURCE_EXHAUSTED (8): its question never ran.
//   R4 RPC ok but q5 failed (DEADLINE_EXCEEDED, 4); q4 delta .05, done .1, 50+1 (TTFT 50).
std::vector<RequestTiming> FourRequests() {
  RequestTiming r1{0, 0.0, 0.5, {Question({0.1, 0.2}, 0.25, 100, 3), Question({0.2}, 0.5, 110, 1)}};
  RequestTiming r2{0, 1.0, 1.4, {Question({0.3, 0.35, 0.4}, 0.4, 100, 4)}};
  RequestTiming r3{8, 1.5, 1.5, {Question({}, 0, 0, 0, 8)}};
  RequestTiming r4{0, 1.6, 1.9, {Question({0.05}, 0.1, 50, 1), Question({}, 0.3, 0, 0, 4)}};
  return {r1, r2, r3, r4};
}

TEST(LoadMetricsTest, CountsThroughputAndDistributions) {
  const LoadMetrics m = ComputeLoadMetrics(FourRequests(), 2.0, Slo{});
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.failed, 2);
  EXPECT_EQ(m.completed_questions, 4);
  EXPECT_EQ(m.failed_questions, 2);
  EXPECT_EQ(m.total_input_tokens, 360);
  EXPECT_EQ(m.total_output_tokens, 9);
  EXPECT_NEAR(m.request_throughput, 1.0, kEps);
  EXPECT_NEAR(m.question_throughput, 2.0, kEps);
  EXPECT_NEAR(m.output_throughput, 4.5, kEps);
  EXPECT_NEAR(m.total_token_throughput, 184.5, kEps);
  EXPECT_FALSE(m.request_goodput.has_value());
  // TTFT ms {100, 200, 300, 50}: sorted 50 100 200 300.
  EXPECT_NEAR(m.ttft_ms.mean, 162.5, kEps);
  EXPECT_NEAR(m.ttft_ms.median, 150, kEps);
  EXPECT_NEAR(m.ttft_ms.p90, 270, kEps);  // rank 2.7: 200 + 0.7 * 100
  EXPECT_NEAR(m.ttft_ms.p99, 297, kEps);
  // E2E ms {250, 500, 400, 100}: sorted 100 250 400 500.
  EXPECT_NEAR(m.e2el_ms.mean, 312.5, kEps);
  EXPECT_NEAR(m.e2el_ms.median, 325, kEps);
  EXPECT_NEAR(m.e2el_ms.p90, 470, kEps);
  EXPECT_NEAR(m.e2el_ms.p99, 497, kEps);
  // TPOT ms {75, 100/3} (single-token answers left out).
  EXPECT_EQ(m.tpot_ms.count, 2u);
  EXPECT_NEAR(m.tpot_ms.mean, (75 + 100.0 / 3) / 2, 1e-6);
  EXPECT_NEAR(m.tpot_ms.p90, 100.0 / 3 + 0.9 * (75 - 100.0 / 3), 1e-6);
  // ITL ms {100, 50, 50}: sorted 50 50 100; rank 1.8 -> 90, rank 1.98 -> 99.
  EXPECT_EQ(m.itl_ms.count, 3u);
  EXPECT_NEAR(m.itl_ms.mean, 200.0 / 3, 1e-6);
  EXPECT_NEAR(m.itl_ms.median, 50, 1e-6);
  EXPECT_NEAR(m.itl_ms.p90, 90, 1e-6);
  EXPECT_NEAR(m.itl_ms.p99, 99, 1e-6);
  // Scene E2E of the ok requests: 500 and 400.
  EXPECT_NEAR(m.scene_e2el_ms.mean, 450, 1e-6);
  EXPECT_EQ(m.request_errors.at(8), 1);
  EXPECT_EQ(m.request_errors.at(0), 1);  // RPC ok, a question failed
  EXPECT_EQ(m.question_errors.at(8), 1);
  EXPECT_EQ(m.question_errors.at(4), 1);
}

TEST(LoadMetricsTest, GoodputUnderSlos) {
  // ttft <= 250 and tpot <= 80: q1 (100, 75) and q2 (200, one token: TPOT 0) are good, so R1 is;
  // q3 (TTFT 300) is not, so R2 is not; q4 is good but R4 failed.
  LoadMetrics m = ComputeLoadMetrics(FourRequests(), 2.0, *ParseSlo("ttft=250,tpot=80"));
  ASSERT_TRUE(m.request_goodput.has_value());
  EXPECT_NEAR(*m.request_goodput, 0.5, kEps);   // 1 request / 2 s
  EXPECT_NEAR(*m.question_goodput, 1.5, kEps);  // q1 q2 q4
  // Bounds are inclusive: q2's E2E is exactly 500 ms.
  m = ComputeLoadMetrics(FourRequests(), 2.0, *ParseSlo("e2e=500"));
  EXPECT_NEAR(*m.request_goodput, 1.0, kEps);   // R1 R2
  EXPECT_NEAR(*m.question_goodput, 2.0, kEps);  // q1 q2 q3 q4
  m = ComputeLoadMetrics(FourRequests(), 2.0, *ParseSlo("e2e=499"));
  EXPECT_NEAR(*m.request_goodput, 0.5, kEps);  // R2 only
  EXPECT_NEAR(*m.question_goodput, 1.5, kEps);
  // tpot=70: q1's 75 fails it.
  m = ComputeLoadMetrics(FourRequests(), 2.0, *ParseSlo("tpot=70"));
  EXPECT_NEAR(*m.request_goodput, 0.5, kEps);  // R2 (33.3)
}

TEST(LoadMetricsTest, EmptyRunAndZeroDuration) {
  const LoadMetrics m = ComputeLoadMetrics({}, 0, *ParseSlo("ttft=1"));
  EXPECT_EQ(m.completed, 0);
  EXPECT_EQ(m.request_throughput, 0);
  EXPECT_EQ(*m.request_goodput, 0);
  EXPECT_EQ(m.ttft_ms.mean, 0);
}

TEST(LoadMetricsTest, JsonHasVllmKeys) {
  const nlohmann::json j = LoadMetricsJson(ComputeLoadMetrics(FourRequests(), 2.0, Slo{}));
  for (const char* key :
       {"completed", "failed", "duration", "total_input_tokens", "total_output_tokens",
        "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
        "question_throughput", "question_goodput", "errors", "question_errors"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* metric : {"ttft", "tpot", "itl", "e2el"}) {
    for (const char* stat : {"mean", "median", "std", "p90", "p99"}) {
      const std::string key = std::string(stat) + "_" + metric + "_ms";
      EXPECT_TRUE(j.contains(key) && j[key].is_number()) << key;
    }
  }
  EXPECT_TRUE(j["request_goodput"].is_null());  // no SLO given
  EXPECT_EQ(j["completed"], 2);
  EXPECT_NEAR(j["p90_ttft_ms"].get<double>(), 270, kEps);
  EXPECT_EQ(j["errors"]["8"], 1);
}

}  // namespace
}  // namespace drivelm::benchmarks
