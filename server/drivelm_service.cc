#include "server/drivelm_service.h"

#include <chrono>
#include <exception>
#include <memory>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "server/status_mapping.h"
#include "spdlog/spdlog.h"

namespace drivelm::server {
namespace {

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  // grpc maps an infinite deadline to time_point::max(); absl::FromChrono would make it a
  // finite (year 2262) time.
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

uint32_t RandomPrefix() {
  std::random_device device;
  return static_cast<uint32_t>(device());
}

// Client-supplied strings go into one log line: escaped (no newlines) and bounded.
std::string ForLog(const std::string& text) {
  constexpr size_t kMax = 96;
  std::string escaped = absl::CHexEscape(text.size() > kMax ? text.substr(0, kMax) : text);
  if (text.size() > kMax) escaped += "...";
  return escaped;
}

// Cancels the engine stream if the handler leaves without draining it (an exception), so the
// engine does not keep working for a call that is gone.
class CancelUnlessDrained {
 public:
  explicit CancelUnlessDrained(engine::RequestStream* stream) : stream_(stream) {}
  ~CancelUnlessDrained() {
    if (!drained_) stream_->Cancel();
  }
  void set_drained() { drained_ = true; }

 private:
  engine::RequestStream* stream_;
  bool drained_ = false;
};

}  // namespace

DriveLmServiceImpl::DriveLmServiceImpl(engine::Engine* engine, ServerMetrics* metrics,
                                       ServiceOptions options)
    : engine_(engine),
      metrics_(metrics),
      options_(std::move(options)),
      model_info_(ToModelInfo(engine->generator(), options_.model_info)),
      id_prefix_(RandomPrefix()) {
  metrics_->SetEngineStats(engine_->stats());
  if (options_.stats_interval > absl::ZeroDuration()) {
    sampler_ = std::thread([this] { SampleStats(); });
  }
}

DriveLmServiceImpl::~DriveLmServiceImpl() {
  stop_sampler_.Notify();
  if (sampler_.joinable()) sampler_.join();
}

void DriveLmServiceImpl::SampleStats() {
  while (!stop_sampler_.WaitForNotificationWithTimeout(options_.stats_interval)) {
    metrics_->SetEngineStats(engine_->stats());
  }
}

std::string DriveLmServiceImpl::NewRequestId() {
  const uint64_t n = id_counter_.fetch_add(1, std::memory_order_relaxed) + 1;
  return absl::StrFormat("%08x-%06d", id_prefix_, n);
}

grpc::Status DriveLmServiceImpl::GetModelInfo(grpc::ServerContext* /*context*/,
                                              const v1::GetModelInfoRequest* /*request*/,
                                              v1::ModelInfo* response) {
  *response = model_info_;
  return grpc::Status::OK;
}

grpc::Status DriveLmServiceImpl::Answer(grpc::ServerContext* context,
                                        const v1::AnswerRequest* request,
                                        grpc::ServerWriter<v1::AnswerEvent>* writer) {
  const absl::Time start = absl::Now();
  absl::StatusOr<engine::SceneRequest> scene =
      ToSceneRequest(*request, engine_->generator().profile().sampling);
  // An empty or refused request_id (too long, not printable) is replaced, so that the log line
  // and the client's metadata still name the request.
  const std::string request_id =
      !request->request_id().empty() && ValidateRequestId(request->request_id()).ok()
          ? request->request_id()
          : NewRequestId();
  const int num_questions = request->questions_size();
  RequestTally tally;
  absl::Status status;
  try {
    context->AddInitialMetadata(kRequestIdMetadataKey, request_id);
    if (!scene.ok()) {
      status = scene.status();
    } else {
      scene->request_id = request_id;
      const absl::Time deadline = DeadlineOf(*context);
      scene->deadline = deadline;
      absl::StatusOr<std::shared_ptr<engine::RequestStream>> submitted =
          engine_->Submit(std::move(*scene));
      if (!submitted.ok()) {
        status = submitted.status();
      } else {
        metrics_->SetEngineStats(engine_->stats());
        status = Forward(context, writer, submitted->get(), deadline, &tally);
      }
    }
  } catch (const std::exception& e) {
    // Nothing on the serving path should throw; if a library does, fail this call only.
    status = absl::InternalError(absl::StrCat("Answer: unexpected exception: ", e.what()));
  }
  metrics_->SetEngineStats(engine_->stats());

  const grpc::Status grpc_status = ToGrpcStatus(status);
  const double total_s = absl::ToDoubleSeconds(absl::Now() - start);
  metrics_->RecordRequestEnd(grpc_status.error_code(), total_s, tally);
  const spdlog::level::level_enum level =
      status.ok() || status.code() == absl::StatusCode::kInvalidArgument ||
              status.code() == absl::StatusCode::kCancelled ||
              status.code() == absl::StatusCode::kDeadlineExceeded ||
              status.code() == absl::StatusCode::kResourceExhausted ||
              status.code() == absl::StatusCode::kUnavailable
          ? spdlog::level::info
          : spdlog::level::warn;
  spdlog::log(level,
              "request id={} model={} scene=\"{}\" questions={} failed_questions={} status={} "
              "total_ms={:.1f} prompt_tokens={} generated_tokens={} queue_ms={:.1f} "
              "image_decode_ms={:.1f} vision_ms={:.1f} prefill_ms={:.1f} decode_ms={:.1f} "
              "ttft_ms={:.1f} flops={:.3g}{}{}",
              request_id, model_info_.model_name(), ForLog(request->scene().id()), num_questions,
              tally.questions_failed, GrpcCodeName(grpc_status.error_code()), total_s * 1e3,
              tally.prompt_tokens, tally.generated_tokens, tally.queue_s * 1e3,
              tally.image_decode_s * 1e3, tally.vision_s * 1e3, tally.prefill_s * 1e3,
              tally.decode_s * 1e3, tally.first_ttft_s < 0 ? 0.0 : tally.first_ttft_s * 1e3,
              tally.total_flops(), status.ok() ? "" : " message=",
              status.ok() ? std::string() : "\"" + ForLog(std::string(status.message())) + "\"");
  return grpc_status;
}

absl::Status DriveLmServiceImpl::Forward(grpc::ServerContext* context,
                                         grpc::ServerWriter<v1::AnswerEvent>* writer,
                                         engine::RequestStream* stream, absl::Time deadline,
                                         RequestTally* tally) {
  CancelUnlessDrained guard(stream);
  // Set once this handler cancels the stream (client gone, deadline): from then on the
  // remaining events are drained, not written, until the engine closes the stream.
  const char* stopped_because = nullptr;
  engine::AnswerEvent event;
  v1::AnswerEvent out;
  for (;;) {
    if (stopped_because == nullptr && context->IsCancelled()) {
      stopped_because = "cancelled by the client";
      stream->Cancel();
    }
    bool timed_out = false;
    if (!stream->Next(&event, options_.poll_interval, &timed_out)) {
      if (timed_out) continue;
      break;  // closed: every question has had its kDone event
    }
    if (event.kind == engine::AnswerEvent::Kind::kDone) {
      tally->Add(event);
      metrics_->RecordQuestionDone(event);
    }
    if (stopped_because != nullptr) continue;
    ToProto(event, &out);
    if (!writer->Write(out)) {
      // The call is over on the client's side (cancelled, deadline, connection lost).
      stopped_because = "client stream closed";
      stream->Cancel();
    }
  }
  guard.set_drained();
  absl::Status final_status = stream->final_status();
  // The engine reports a cancellation we asked for as Cancelled; say why we asked. gRPC ends
  // the call at its deadline by its own clock, a little before absl::Now() may reach it.
  if (stopped_because != nullptr &&
      (final_status.ok() || final_status.code() == absl::StatusCode::kCancelled)) {
    constexpr absl::Duration kDeadlineSlack = absl::Milliseconds(50);
    final_status = absl::Now() + kDeadlineSlack >= deadline
                       ? absl::DeadlineExceededError("deadline passed")
                       : absl::CancelledError(stopped_because);
  }
  return final_status;
}

}  // namespace drivelm::server
