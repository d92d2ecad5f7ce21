#include "engine/engine.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/prompt_builder.h"
#include "engine/engine_internal.h"
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


namespace {

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
  // The paged KV pool, sized from the byte budget, and the caches. The engine thread owns them.
  const ModelConfig& config = generator->model().config();
  absl::StatusOr<int32_t> num_blocks = KvCacheManager::NumBlocksForBudget(
      options.kv_cache_bytes, options.kv_block_size, config.text.num_hidden_layers,
      config.text.num_key_value_heads, config.text.head_dim, /*dtype_bytes=*/4);
  if (!num_blocks.ok()) return num_blocks.status();
  KvCacheConfig kv_config;
  kv_config.block_size = options.kv_block_size;
  kv_config.num_blocks = *num_blocks;
  kv_config.enable_prefix_caching = options.enable_prefix_caching;
  absl::StatusOr<KvCacheManager> kv = KvCacheManager::Create(kv_config);
  if (!kv.ok()) return kv.status();

  std::unique_ptr<Engine> engine(new Engine(std::move(generator), options));
  engine->kv_manager_.emplace(std::move(*kv));
  engine->scheduler_ = std::make_unique<Scheduler>(options.scheduler, &*engine->kv_manager_);
  engine->runner_ = std::make_unique<ModelRunner>(&engine->generator_->model_for_engine(),
                                                  *num_blocks, options.kv_block_size);
  engine->vision_cache_ = std::make_unique<VisionCache>(
      static_cast<size_t>(std::max<int64_t>(options.vision_cache_bytes, 0)),
      static_cast<size_t>(std::max<int64_t>(options.vision_cache_entries, 0)));
  engine->thread_ = std::thread(&Engine::Loop, engine.get());
  return engine;
}

Engine::Engine(std::unique_ptr<Generator> generator, const EngineOptions& options)
    : generator_(std::move(generator)), options_(options) {}

Engine::~Engine() { Shutdown(absl::ZeroDuration()); }


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
  EngineStats s = published_;
  s.waiting = static_cast<int64_t>(queue_.size());
  s.running = running_;
  return s;
}

}  // namespace drivelm::engine
