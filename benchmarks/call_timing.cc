#include "benchmarks/call_timing.h"

#include <grpcpp/support/status_code_enum.h>

namespace drivelm::benchmarks {

RequestTiming TimingFromCall(const clients::AnswerCallResult& call,
                             const std::vector<std::string>& question_ids, double send_s) {
  RequestTiming r;
  r.rpc_code = static_cast<int>(call.status.error_code());
  r.send_s = send_s;
  r.end_s = send_s + call.end_s;
  for (const std::string& id : question_ids) {
    QuestionTiming q;
    auto it = call.questions.find(id);
    if (it == call.questions.end() || !it->second.done.has_value()) {
      q.ok = false;
      q.status_code = r.rpc_code != 0 ? r.rpc_code : static_cast<int>(grpc::StatusCode::INTERNAL);
      if (it != call.questions.end()) q.delta_s = it->second.delta_s;
      r.questions.push_back(std::move(q));
      continue;
    }
    const clients::QuestionTrace& trace = it->second;
    q.ok = trace.ok();
    q.status_code = trace.done->status().code();
    q.delta_s = trace.delta_s;
    q.done_s = trace.done_s;
    q.prompt_tokens = trace.done->usage().prompt_tokens();
    q.generated_tokens = trace.done->usage().generated_tokens();
    r.questions.push_back(std::move(q));
  }
  return r;
}

}  // namespace drivelm::benchmarks
