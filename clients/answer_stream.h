// AnswerStream: one drivelm.v1 Answer call on gRPC's callback API, recording when each event
// arrived, for the clients that measure the server (drivelm_eval's latency summary, loadgen).
//
// Timing: every time is seconds on the steady clock since the call was started (taken just
// before StartCall); an event's time is when its read completed on the client, so it includes
// the network and the client's own scheduling, as a user would see it.
//
// Threading: Start() once from any thread; the events are handled on gRPC's threads; Cancel()
// from any thread at any time before Wait() returns; Wait() from one thread. The object must
// stay alive until Wait() has returned (or, with an on_done callback, until the callback ran and
// the owner is told): gRPC calls into it until then.
#ifndef DRIVELM_CLIENTS_ANSWER_STREAM_H_
#define DRIVELM_CLIENTS_ANSWER_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"

namespace drivelm::clients {

// What the client saw of one question.
struct QuestionTrace {
  std::string text;                               // the deltas concatenated: the answer
  std::vector<double> delta_s;                    // arrival of each delta
  std::optional<drivelm::v1::QuestionDone> done;  // the done event, when it came
  double done_s = 0;                              // arrival of the done event (valid with `done`)

  // Answered: a done event with status code 0.
  bool ok() const { return done.has_value() && done->status().code() == 0; }
};

struct AnswerCallResult {
  grpc::Status status;     // the RPC's final status
  std::string request_id;  // "drivelm-request-id" initial metadata ("" when none came)
  std::chrono::steady_clock::time_point started;   // the origin of every *_s below
  double end_s = 0;                                // the stream ended (status received)
  std::map<std::string, QuestionTrace> questions;  // by question id, as events named them
};

class AnswerStream final : public grpc::ClientReadReactor<drivelm::v1::AnswerEvent> {
 public:
  using DoneCallback = std::function<void(const AnswerCallResult&)>;

  // `request` is shared so that many calls can send one prepared request; `deadline` bounds the
  // call (none when absent).
  AnswerStream(std::shared_ptr<const drivelm::v1::AnswerRequest> request,
               std::optional<absl::Duration> deadline);

  // Starts the call. `on_done`, when given, runs once on a gRPC thread when the stream has
  // ended, before Wait() returns; it must not destroy this object.
  void Start(drivelm::v1::DriveLM::StubInterface* stub, DoneCallback on_done = nullptr);

  // Asks gRPC to cancel the call (it then ends with CANCELLED unless it already finished).
  void Cancel() { context_.TryCancel(); }

  // Blocks until the stream has ended; the result (moved out: call once).
  AnswerCallResult Wait();

  // grpc::ClientReadReactor.
  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  double Now() const;

  const std::shared_ptr<const drivelm::v1::AnswerRequest> request_;
  grpc::ClientContext context_;
  drivelm::v1::AnswerEvent event_;  // the read in progress
  DoneCallback on_done_;
  AnswerCallResult result_;  // written on gRPC's threads (one at a time) until done
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // guarded by mu_
};

// Runs one call to completion on the calling thread.
AnswerCallResult RunAnswerCall(drivelm::v1::DriveLM::StubInterface* stub,
                               std::shared_ptr<const drivelm::v1::AnswerRequest> request,
                               std::optional<absl::Duration> deadline);

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_ANSWER_STREAM_H_
