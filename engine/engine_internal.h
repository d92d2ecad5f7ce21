// Engine internals shared by engine.cc (submission, shutdown) and engine_loop.cc (the engine
// thread's batching loop). Not part of the engine's interface.
#ifndef DRIVELM_ENGINE_ENGINE_INTERNAL_H_
#define DRIVELM_ENGINE_ENGINE_INTERNAL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/answer_decoder.h"
#include "engine/engine.h"
#include "engine/question_graph.h"

namespace drivelm::engine {

// A queued request. Owned by exactly one place at a time: the queue, the engine thread, or
// whoever took it out of the queue to end it; that owner closes its stream.
struct Engine::Pending {
  SceneRequest request;
  QuestionGraph graph;
  absl::Time submit_time;
  std::shared_ptr<RequestStream> stream = std::make_shared<RequestStream>();
};

// An admitted request (engine thread only).
struct Engine::Active {
  enum class QuestionState { kBlocked, kHeld, kRunning, kDone };
  std::unique_ptr<Pending> pending;
  EncodedImages images;
  int64_t image_tokens = 0;            // image tokens at the start of every prompt
  bool shared_image_prefix = false;    // profile image_prefix: shared
  bool image_prefix_ready = false;     // shared mode: the scene's image KV has been computed
  double image_pass_flops = 0;         // shared mode: the image pass's prefill, reported once
                                       // (on the first question to finish after it)
  QuestionUsage scene_usage;           // queue, image decode, vision: shared by its questions
  std::vector<QuestionState> state;    // per question
  std::vector<std::optional<std::string>> answers;  // set when a question finished OK
  std::vector<SeqId> seq;              // per question, while running
  int remaining = 0;                   // questions without a kDone event yet
  absl::Status stop;                   // set when the request was stopped
};

// One question being answered (engine thread only).
struct Engine::Sequence {
  Active* active = nullptr;
  int question = 0;
  std::vector<int32_t> tokens;  // prompt + sampled ids
  RunnerSequence runner;        // points into `tokens` and the request's image features
  std::optional<AnswerDecoder> decoder;
  double prefill_s = 0;
  double decode_s = 0;
  PhaseFlops flops;
  std::optional<absl::Time> first_token;
  bool image_prefix_only = false;  // shared mode's scene image pass: no answer of its own
  bool scheduled = false;          // its first chunk has run (prefix-cache savings counted)
};

// How often the engine thread, between forward passes, looks for cancelled queued requests.
constexpr absl::Duration kPurgeInterval = absl::Milliseconds(10);

inline double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// `status` with "questions[id]: " in front of its message, same code.
inline absl::Status ForQuestion(const std::string& id, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("questions[", id, "]: ", status.message()));
}

// Ends a request that never got to its questions: every question gets kDone (kAbort, `status`),
// then the stream closes with `status`.
inline void EndWithoutRunning(const SceneRequest& request, double queue_s, const absl::Status& status,
                       RequestStream& stream) {
  for (const QuestionSpec& q : request.questions) {
    AnswerEvent done;
    done.kind = AnswerEvent::Kind::kDone;
    done.question_id = q.id;
    done.finish_reason = FinishReason::kAbort;
    done.usage.queue_s = queue_s;
    done.status = status;
    stream.Push(std::move(done));
  }
  stream.Close(status);
}


}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_ENGINE_INTERNAL_H_
