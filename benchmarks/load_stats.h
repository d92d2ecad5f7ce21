// Load-test arithmetic shared by loadgen and drivelm_eval: per-question latencies from the
// client's event times, their distributions (numpy-compatible percentiles, as `vllm bench serve`
// computes them), throughput and goodput under SLOs, and the result JSON under vLLM's key names.
//
// Units: event times are seconds from the request's send; the *_ms distributions and SLOs are in
// milliseconds (vLLM's convention).
//
// Granularity: one request is one scene (a key frame and its questions); TTFT, TPOT, ITL and E2E
// are per question (each question is an answer stream, as a vLLM request is), request throughput
// and goodput are per scene, question_throughput per question.
#ifndef DRIVELM_BENCHMARKS_LOAD_STATS_H_
#define DRIVELM_BENCHMARKS_LOAD_STATS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace drivelm::benchmarks {

// numpy.percentile(values, p) with its default ("linear") interpolation: over the sorted values
// x[0..n-1], rank r = p/100 * (n-1), result x[floor r] + (r - floor r) * (x[ceil r] - x[floor r]).
// `p` in [0, 100] (clamped). Empty `values`: 0, as vLLM's np.percentile(x or 0, p).
double Percentile(std::vector<double> values, double p);

// mean, median, population std (numpy's default ddof=0), p90, p99. Empty: all 0.
struct Distribution {
  size_t count = 0;
  double mean = 0;
  double median = 0;
  double std = 0;
  double p90 = 0;
  double p99 = 0;
};
Distribution Summarize(const std::vector<double>& values);

// One question's answer stream as the client saw it.
struct QuestionTiming {
  bool ok = false;               // a done event with status code 0
  int status_code = 0;           // the done event's QuestionStatus.code (or the RPC's, no done)
  std::vector<double> delta_s;   // arrival of each text delta, seconds from the send
  double done_s = 0;             // arrival of the done event
  int64_t prompt_tokens = 0;     // usage.prompt_tokens
  int64_t generated_tokens = 0;  // usage.generated_tokens

  // Time to first token: the first delta; an answer without any delta (empty) counts its done
  // event.
  double TtftS() const;
  // End to end: the done event.
  double E2eS() const { return done_s; }
  // Time per output token after the first, (E2E - TTFT) / (generated_tokens - 1); none for
  // answers of fewer than two tokens (vLLM leaves them out of TPOT).
  std::optional<double> TpotS() const;
  // Inter-token latencies: the gaps between consecutive deltas (a delta can carry several
  // tokens, as a vLLM stream chunk can).
  std::vector<double> ItlS() const;
};

// One request (scene).
struct RequestTiming {
  int rpc_code = 0;   // the RPC's gRPC status code (0 OK)
  double send_s = 0;  // when it was sent, seconds from the run's start
  double end_s = 0;   // when its stream ended, same origin
  std::vector<QuestionTiming> questions;

  // The RPC succeeded and every question was answered.
  bool ok() const;
};

// Service-level objectives for goodput; an absent bound is not checked.
struct Slo {
  std::optional<double> ttft_ms;
  std::optional<double> tpot_ms;
  std::optional<double> e2e_ms;
  bool empty() const { return !ttft_ms && !tpot_ms && !e2e_ms; }
};

// "ttft=500,tpot=50,e2e=2000" (any subset, any order; milliseconds, > 0). InvalidArgument
// naming the part for an unknown key, a repeated key or a bad value. "" is no SLO.
absl::StatusOr<Slo> ParseSlo(absl::string_view spec);

// A question meets the SLO when each bound is >= its value (inclusive, as vLLM's goodput); an
// answer of one token has TPOT 0 (vLLM's convention for goodput). Not ok: never.
bool MeetsSlo(const QuestionTiming& question, const Slo& slo);
// A request meets it when it is ok and every one of its questions meets it.
bool MeetsSlo(const RequestTiming& request, const Slo& slo);

struct LoadMetrics {
  int64_t completed = 0;            // requests ok()
  int64_t failed = 0;               // the others
  int64_t completed_questions = 0;  // questions ok (in any request)
  int64_t failed_questions = 0;
  double duration_s = 0;
  int64_t total_input_tokens = 0;   // prompt tokens of the ok questions (image tokens included)
  int64_t total_output_tokens = 0;  // generated tokens of the ok questions
  double request_throughput = 0;    // completed / duration
  std::optional<double> request_goodput;   // requests meeting the SLO / duration (SLO given)
  double question_throughput = 0;          // completed_questions / duration
  std::optional<double> question_goodput;  // ok questions meeting the SLO / duration
  double output_throughput = 0;            // total_output_tokens / duration
  double total_token_throughput = 0;       // (input + output) / duration
  // Over the ok questions, milliseconds. ITL pools every gap of every question.
  Distribution ttft_ms, tpot_ms, itl_ms, e2el_ms;
  // Whole-scene latency of the ok requests (send to the stream's end), milliseconds.
  Distribution scene_e2el_ms;
  std::map<int, int64_t> request_errors;   // failed requests by RPC status code (0: the RPC
                                           // succeeded but a question failed)
  std::map<int, int64_t> question_errors;  // failed questions by their status code
};

// `duration_s`: the run's wall time (first send to the last stream's end); must be > 0 for
// rates (0 gives rates of 0).
LoadMetrics ComputeLoadMetrics(const std::vector<RequestTiming>& requests, double duration_s,
                               const Slo& slo);

// The metrics under `vllm bench serve`'s result keys: completed, failed, duration,
// total_input_tokens, total_output_tokens, request_throughput, request_goodput (null without an
// SLO), output_throughput, total_token_throughput, {mean,median,std,p90,p99}_{ttft,tpot,itl,
// e2el}_ms; plus question_throughput, question_goodput, completed_questions,
// failed_questions, the scene_e2el_ms distribution and errors (by status code number; the
// caller may rename them).
nlohmann::json LoadMetricsJson(const LoadMetrics& metrics);

}  // namespace drivelm::benchmarks

#endif  // DRIVELM_BENCHMARKS_LOAD_STATS_H_
