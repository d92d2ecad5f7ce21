// FinishReason: why a sequence stopped generating; reported to clients and counted in
// drivelm_request_success_total{finish_reason}.
#ifndef DRIVELM_ENGINE_FINISH_REASON_H_
#define DRIVELM_ENGINE_FINISH_REASON_H_

namespace drivelm::engine {

enum class FinishReason {
  kStop,    // an eos token or a stop string
  kLength,  // max_new_tokens reached
  kAbort,   // cancelled, deadline passed, or failed; set by the engine, not by StopCondition
};

// "stop", "length", "abort": vLLM's names, so dashboards translate.
const char* FinishReasonName(FinishReason reason);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_FINISH_REASON_H_
