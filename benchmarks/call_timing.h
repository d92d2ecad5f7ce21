// TimingFromCall: what load_stats measures, taken from one recorded Answer call (clients/
// answer_stream.h). Shared by loadgen and drivelm_eval so both count the same way.
#ifndef DRIVELM_BENCHMARKS_CALL_TIMING_H_
#define DRIVELM_BENCHMARKS_CALL_TIMING_H_

#include <string>
#include <vector>

#include "benchmarks/load_stats.h"
#include "clients/answer_stream.h"

namespace drivelm::benchmarks {

// The request's timing: one QuestionTiming per id in `question_ids` (the request's questions, in
// its order). A question without a done event failed with the RPC's status code (INTERNAL when
// the RPC itself succeeded, which the API rules out). `send_s`: when the call was sent, on the
// run's clock; the call's own times are relative to it.
RequestTiming TimingFromCall(const clients::AnswerCallResult& call,
                             const std::vector<std::string>& question_ids, double send_s);

}  // namespace drivelm::benchmarks

#endif  // DRIVELM_BENCHMARKS_CALL_TIMING_H_
