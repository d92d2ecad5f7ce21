#include "clients/answer_stream.h"

#include <utility>

#include "clients/answer_request.h"

namespace drivelm::clients {
namespace v1 = drivelm::v1;

AnswerStream::AnswerStream(std::shared_ptr<const v1::AnswerRequest> request,
                           std::optional<absl::Duration> deadline)
    : request_(std::move(request)) {
  if (deadline) context_.set_deadline(absl::ToChronoTime(absl::Now() + *deadline));
}

double AnswerStream::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - result_.started).count();
}

void AnswerStream::Start(v1::DriveLM::StubInterface* stub, DoneCallback on_done) {
  on_done_ = std::move(on_done);
  AddRoutingMetadata(*request_, &context_);
  stub->async()->Answer(&context_, request_.get(), this);
  StartRead(&event_);
  result_.started = std::chrono::steady_clock::now();
  StartCall();
}

void AnswerStream::OnReadInitialMetadataDone(bool ok) {
  if (!ok) return;
  const auto& metadata = context_.GetServerInitialMetadata();
  if (auto it = metadata.find("drivelm-request-id"); it != metadata.end()) {
    result_.request_id.assign(it->second.data(), it->second.size());
  }
}

void AnswerStream::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended: OnDone follows
  const double at = Now();
  QuestionTrace& q = result_.questions[event_.question_id()];
  if (event_.has_delta()) {
    q.text += event_.delta().text();
    q.delta_s.push_back(at);
  } else if (event_.has_done()) {
    q.done = event_.done();
    q.done_s = at;
  }
  StartRead(&event_);
}

void AnswerStream::OnDone(const grpc::Status& status) {
  result_.end_s = Now();
  result_.status = status;
  if (on_done_) on_done_(result_);
  // Last: once finished_ is seen, the owner may destroy this object.
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  cv_.notify_all();
}

AnswerCallResult AnswerStream::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return finished_; });
  return std::move(result_);
}

AnswerCallResult RunAnswerCall(v1::DriveLM::StubInterface* stub,
                               std::shared_ptr<const v1::AnswerRequest> request,
                               std::optional<absl::Duration> deadline) {
  AnswerStream stream(std::move(request), deadline);
  stream.Start(stub);
  return stream.Wait();
}

}  // namespace drivelm::clients
