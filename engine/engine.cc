#include "engine/engine.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/prompt_builder.h"
#include "engine/question_graph.h"
#include "engine/vision/image_decoder.h"

namespace drivelm::engine {

const char* QuestionStageName(QuestionStage stage) {
  switch (stage) {
    case QuestionStage::kUnspecified:
      return "unspecified";
    case QuestionStage::kPerception:
      return "perception";
    case QuestionStage::kPrediction:
      return "prediction";
    case QuestionStage::kPlanning:
      return "planning";
    case QuestionStage::kBehavior:
      return "behavior";
  }
  return "unknown";
}

// ---- RequestStream ----

bool RequestStream::Next(AnswerEvent* event, absl::Duration timeout, bool* timed_out) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty() || closed_; };
  const bool woke = mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (timed_out != nullptr) *timed_out = !woke;
  if (events_.empty()) return false;  // ended, or timed out
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestStream::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

bool RequestStream::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

absl::Status RequestStream::final_status() const {
  absl::MutexLock lock(&mu_);
  return final_status_;
}

void RequestStream::Push(AnswerEvent event) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;  // the engine never pushes after Close; a late event is dropped
  events_.push_back(std::move(event));
}

void RequestStream::Close(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  final_status_ = std::move(status);
}

// ---- Engine ----

struct Engine::Pending {
  SceneRequest request;
  QuestionGraph graph;
  absl::Time submit_time;
  std::shared_ptr<RequestStream> stream = std::make_shared<RequestStream>();
};

namespace {

// How often the engine thread, between forward passes, looks for cancelled queued requests.
constexpr absl::Duration kPurgeInterval = absl::Milliseconds(10);

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// `status` with "questions[id]: " in front of its message, same code.
absl::Status ForQuestion(const std::string& id, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("questions[", id, "]: ", status.message()));
}

// Everything Submit() can check without decoding pixels.
absl::StatusOr<QuestionGraph> ValidateSceneRequest(const SceneRequest& request,
                                                   const Generator& generator,
                                                   const EngineOptions& options) {
  const int num_questions = static_cast<int>(request.questions.size());
  if (num_questions < 1) {
    return absl::InvalidArgumentError("questions: 0 given, at least 1 required");
  }
  if (num_questions > options.max_questions_per_request) {
    return absl::InvalidArgumentError(absl::StrCat("questions: ", num_questions,
                                                   " given, at most ",
                                                   options.max_questions_per_request));
  }
  std::vector<QuestionRef> refs;
  refs.reserve(request.questions.size());
  for (const QuestionSpec& q : request.questions) refs.push_back({q.id, q.depends_on});
  absl::StatusOr<QuestionGraph> graph = QuestionGraph::Build(refs);
  if (!graph.ok()) return graph.status();
  for (const QuestionSpec& q : request.questions) {
    if (q.text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("questions[", q.id, "].text: is empty"));
    }
    if (static_cast<int64_t>(q.text.size()) > options.max_question_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("questions[", q.id, "].text: ",
                                                     q.text.size(), " bytes, at most ",
                                                     options.max_question_bytes));
    }
  }

  const int num_images = static_cast<int>(request.images.size());
  if (num_images < 1) return absl::InvalidArgumentError("images: 0 given, at least 1 required");
  if (num_images > options.max_images_per_request) {
    return absl::InvalidArgumentError(absl::StrCat("images: ", num_images, " given, at most ",
                                                   options.max_images_per_request));
  }
  // Missing, duplicate or unknown cameras, by the profile.
  if (absl::StatusOr<std::vector<const CameraImage*>> ordered =
          generator.OrderImages(request.images);
      !ordered.ok()) {
    return ordered.status();
  }
  for (const CameraImage& image : request.images) {
    absl::StatusOr<ImageHeader> header = ReadImageHeader(image.encoded);
    if (!header.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("images[", image.camera, "]: ", header.status().message()));
    }
    if (header->width * header->height > generator.options().max_pixels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "images[", image.camera, "]: ", ImageFormatName(header->format), " of ", header->width,
          "x", header->height, " = ", header->width * header->height,
          " pixels is over the limit of ", generator.options().max_pixels, " pixels"));
    }
  }

  const int max_new_tokens =
      request.max_new_tokens.value_or(generator.profile().max_new_tokens);
  if (max_new_tokens < 1 || max_new_tokens > options.max_new_tokens_limit) {
    return absl::InvalidArgumentError(absl::StrCat("max_new_tokens: ", max_new_tokens,
                                                   " is outside [1, ",
                                                   options.max_new_tokens_limit, "]"));
  }
  if (absl::Status s =
          ValidateSamplingParams(request.sampling.value_or(generator.profile().sampling));
      !s.ok()) {
    return s;
  }
  for (const std::string& stop : request.stop_strings) {
    if (stop.empty()) return absl::InvalidArgumentError("stop_strings: empty string");
  }
  // Each question as it would run without context (answers of its parents are not known yet;
  // with them, a prompt that no longer fits fails that question at run time).
  GenerateRequest probe;
  probe.sampling = request.sampling;
  probe.max_new_tokens = request.max_new_tokens;
  probe.stop_strings = request.stop_strings;
  for (const QuestionSpec& q : request.questions) {
    probe.question = q.text;
    if (absl::Status s = generator.ValidateRequest(probe, num_images); !s.ok()) {
      return ForQuestion(q.id, s);
    }
  }
  return graph;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(std::unique_ptr<Generator> generator,
                                                       const EngineOptions& options) {
  if (generator == nullptr) return absl::InvalidArgumentError("Engine::Create: no generator");
  const struct {
    const char* name;
    int64_t value;
  } limits[] = {
      {"max_queued_requests", options.max_queued_requests},
      {"max_questions_per_request", options.max_questions_per_request},
      {"max_images_per_request", options.max_images_per_request},
      {"max_new_tokens_limit", options.max_new_tokens_limit},
      {"max_question_bytes", options.max_question_bytes},
      {"generator.max_pixels", options.generator.max_pixels},
  };
  for (const auto& limit : limits) {
    if (limit.value < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("EngineOptions.", limit.name, ": ", limit.value, ", must be >= 1"));
    }
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(generator), options));
  engine->thread_ = std::thread(&Engine::Loop, engine.get());
  return engine;
}

Engine::Engine(std::unique_ptr<Generator> generator, const EngineOptions& options)
    : generator_(std::move(generator)), options_(options) {}

Engine::~Engine() { Shutdown(absl::ZeroDuration()); }

namespace {

// Ends a request that never got to its questions: every question gets kDone (kAbort, `status`),
// then the stream closes with `status`.
void EndWithoutRunning(const SceneRequest& request, double queue_s, const absl::Status& status,
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

}  // namespace

absl::StatusOr<std::shared_ptr<RequestStream>> Engine::Submit(SceneRequest request) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("engine is shutting down");
  }
  absl::StatusOr<QuestionGraph> graph = ValidateSceneRequest(request, *generator_, options_);
  if (!graph.ok()) return graph.status();
  const absl::Time now = absl::Now();
  if (request.deadline <= now) {
    return absl::DeadlineExceededError("deadline: already passed at submission");
  }
  PurgeQueue();  // cancelled requests must not make the queue look full

  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  pending->graph = std::move(*graph);
  pending->submit_time = now;
  std::shared_ptr<RequestStream> stream = pending->stream;
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("engine is shutting down");
  if (static_cast<int64_t>(queue_.size()) >= options_.max_queued_requests) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full: ", queue_.size(), " requests waiting"));
  }
  // Higher priority first; FCFS within a priority: insert after every request of >= priority.
  auto it = queue_.begin();
  while (it != queue_.end() && (*it)->request.priority >= pending->request.priority) ++it;
  queue_.insert(it, std::move(pending));
  return stream;
}

void Engine::PurgeQueue() {
  std::vector<std::pair<std::unique_ptr<Pending>, absl::Status>> dead;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      absl::Status why = StopStatus(**it);
      if (why.ok()) {
        ++it;
        continue;
      }
      dead.emplace_back(std::move(*it), std::move(why));
      it = queue_.erase(it);
    }
  }
  const absl::Time now = absl::Now();
  for (auto& [pending, why] : dead) {
    EndWithoutRunning(pending->request, Seconds(now - pending->submit_time), why,
                      *pending->stream);
  }
}

absl::Status Engine::StopStatus(const Pending& pending) const {
  if (pending.stream->cancelled()) return absl::CancelledError("request cancelled");
  if (absl::Now() >= pending.request.deadline) {
    return absl::DeadlineExceededError("request deadline passed");
  }
  if (aborting_.load(std::memory_order_relaxed)) {
    return absl::UnavailableError("engine shut down before the request finished");
  }
  return absl::OkStatus();
}

void Engine::Shutdown(absl::Duration grace) {
  absl::MutexLock shutdown_lock(&shutdown_mu_);
  if (!thread_.joinable()) return;  // already shut down
  const absl::Time give_up = absl::Now() + grace;
  std::deque<std::unique_ptr<Pending>> left;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return queue_.empty() && running_ == 0;
    };
    mu_.AwaitWithDeadline(absl::Condition(&idle), give_up);
    aborting_.store(true);  // the running request, if any, stops at its next forward pass
    left.swap(queue_);
  }
  const absl::Time now = absl::Now();
  for (std::unique_ptr<Pending>& pending : left) {
    EndWithoutRunning(pending->request, Seconds(now - pending->submit_time),
                      absl::UnavailableError("engine shut down before the request started"),
                      *pending->stream);
  }
  thread_.join();
}

EngineStats Engine::stats() const {
  absl::MutexLock lock(&mu_);
  EngineStats s;
  s.waiting = static_cast<int64_t>(queue_.size());
  s.running = running_;
  return s;
}

void Engine::Loop() {
  while (true) {
    std::unique_ptr<Pending> pending;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left to finish
      pending = std::move(queue_.front());
      queue_.pop_front();
      running_ = 1;
    }
    Run(*pending);
    pending.reset();
    absl::MutexLock lock(&mu_);
    running_ = 0;
  }
}

void Engine::Run(Pending& pending) {
  const SceneRequest& request = pending.request;
  RequestStream& stream = *pending.stream;
  const std::vector<QuestionSpec>& questions = request.questions;
  const absl::Time start = absl::Now();

  QuestionUsage scene_usage;  // what every question of the scene shares
  scene_usage.queue_s = Seconds(start - pending.submit_time);
  absl::Status stop = StopStatus(pending);
  if (!stop.ok()) {  // cancelled or expired while queued
    EndWithoutRunning(request, scene_usage.queue_s, stop, stream);
    return;
  }

  absl::StatusOr<EncodedImages> encoded = generator_->EncodeImages(request.images);
  if (!encoded.ok()) {
    // An image that does not decode fails the whole scene; the status names the camera.
    EndWithoutRunning(request, scene_usage.queue_s, encoded.status(), stream);
    return;
  }
  scene_usage.image_decode_s = encoded->image_decode_s;
  scene_usage.vision_s = encoded->vision_s;
  scene_usage.flops.vision = encoded->vision_flops;

  // Between forward passes: stop when this request must, and drop cancelled queued requests
  // so that their slots free up while this one runs.
  auto should_stop = [&]() {
    const absl::Time now = absl::Now();
    if (now >= next_purge_) {
      next_purge_ = now + kPurgeInterval;
      PurgeQueue();
    }
    return !StopStatus(pending).ok();
  };

  std::vector<std::optional<std::string>> answers(questions.size());  // set when finished OK
  for (int i : pending.graph.order()) {
    const QuestionSpec& question = questions[i];
    AnswerEvent done;
    done.kind = AnswerEvent::Kind::kDone;
    done.question_id = question.id;
    done.finish_reason = FinishReason::kAbort;
    done.usage = scene_usage;
    if (stop.ok()) stop = StopStatus(pending);
    if (!stop.ok()) {
      done.status = stop;
      stream.Push(std::move(done));
      continue;
    }

    GenerateRequest generate;
    generate.question = question.text;
    generate.sampling = request.sampling;
    generate.max_new_tokens = request.max_new_tokens;
    generate.stop_strings = request.stop_strings;
    for (int parent : pending.graph.parents(i)) {
      if (!answers[parent].has_value()) {
        done.status = absl::FailedPreconditionError(absl::StrCat(
            "questions[", question.id, "]: parent ", questions[parent].id, " did not finish"));
        break;
      }
      generate.context.push_back(QaPair{questions[parent].text, *answers[parent]});
    }
    if (!done.status.ok()) {
      stream.Push(std::move(done));
      continue;
    }

    const absl::Time answer_start = absl::Now();
    std::optional<absl::Time> first_delta;
    auto on_text = [&](const std::string& delta) {
      if (!first_delta) first_delta = absl::Now();
      AnswerEvent event;
      event.kind = AnswerEvent::Kind::kDelta;
      event.question_id = question.id;
      event.text = delta;
      stream.Push(std::move(event));
    };
    absl::StatusOr<GenerateResult> result =
        generator_->Answer(*encoded, generate, on_text, should_stop);
    if (!result.ok()) {
      // E.g. the prompt with its parents' answers no longer fits: this question fails, the
      // others go on (its dependents then fail with FailedPrecondition).
      done.status = ForQuestion(question.id, result.status());
      stream.Push(std::move(done));
      continue;
    }
    QuestionUsage& usage = done.usage;
    usage.prompt_tokens = result->prompt_tokens;
    usage.generated_tokens = static_cast<int64_t>(result->token_ids.size());
    usage.prefill_s = result->times.prefill_s;
    usage.decode_s = result->times.decode_s;
    usage.flops.prefill = result->flops.prefill;
    usage.flops.decode = result->flops.decode;
    if (first_delta) {
      usage.ttft_s = Seconds(*first_delta - pending.submit_time);
    } else if (usage.generated_tokens > 0) {  // no text (yet): the first token ends prefill
      usage.ttft_s = Seconds(answer_start - pending.submit_time) + usage.prefill_s;
    }
    done.finish_reason = result->finish_reason;
    if (result->finish_reason == FinishReason::kAbort) {
      stop = StopStatus(pending);
      if (stop.ok()) stop = absl::InternalError("generation aborted without a reason");
      done.status = stop;
    } else {
      answers[i] = result->text;
    }
    stream.Push(std::move(done));
  }
  // A request that ran to its end is OK even when some questions failed (their kDone events
  // carry why); a stopped one ends with why it stopped.
  stream.Close(stop);
}

}  // namespace drivelm::engine
