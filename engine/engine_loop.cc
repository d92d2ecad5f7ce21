// The engine thread: admit requests, encode their images once (vision cache), run their
// questions through the scheduler's continuous batches, stream tokens, and finish questions in
// dependency order. Everything here runs on the engine thread only.
#include <algorithm>
#include <utility>

#include "engine/engine_internal.h"

namespace drivelm::engine {
namespace {

// Hash-chain roots: blocks computed in different attention modes never match.
constexpr uint64_t kExactRoot = KvCacheManager::kRootBlockHash;
constexpr uint64_t kSharedRoot = KvCacheManager::kRootBlockHash ^ 0x5348415245440000ULL;

}  // namespace

void Engine::Loop() {
  // Busy time: everything but waiting for work, accumulated every iteration so that stats()
  // lags by at most one PublishStats().
  absl::Time busy_since = absl::Now();
  while (true) {
    std::vector<std::unique_ptr<Pending>> admitted;
    {
      absl::MutexLock lock(&mu_);
      if (active_.empty()) {
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !queue_.empty() || stopping_;
        };
        busy_s_ += Seconds(absl::Now() - busy_since);
        mu_.Await(absl::Condition(&ready));
        busy_since = absl::Now();
        if (queue_.empty()) return;  // stopping, and nothing left to finish
      }
      while (!queue_.empty() &&
             static_cast<int>(active_.size() + admitted.size()) < options_.max_active_requests) {
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      running_ = static_cast<int64_t>(active_.size() + admitted.size());
    }
    if (!admitted.empty()) {
      const absl::Time admit_start = absl::Now();
      for (std::unique_ptr<Pending>& pending : admitted) Admit(std::move(pending));
      admit_s_ += Seconds(absl::Now() - admit_start);
    }

    const absl::Time now = absl::Now();
    if (now >= next_purge_) {
      next_purge_ = now + kPurgeInterval;
      PurgeQueue();
    }
    StopRequests();
    Step();
    // Requests whose every question has its kDone event are over (their streams are closed).
    active_.erase(std::remove_if(active_.begin(), active_.end(),
                                 [](const std::unique_ptr<Active>& a) { return a->remaining == 0; }),
                  active_.end());
    const absl::Time now_done = absl::Now();
    busy_s_ += Seconds(now_done - busy_since);
    busy_since = now_done;
    PublishStats();
  }
}

void Engine::Admit(std::unique_ptr<Pending> pending) {
  auto a = std::make_unique<Active>();
  const SceneRequest& request = pending->request;
  const int n = static_cast<int>(request.questions.size());
  a->pending = std::move(pending);
  a->state.assign(n, Active::QuestionState::kBlocked);
  a->answers.resize(n);
  a->seq.assign(n, 0);
  a->remaining = n;
  const absl::Time start = absl::Now();
  a->scene_usage.queue_s = Seconds(start - a->pending->submit_time);
  if (absl::Status stop = StopStatus(*a->pending); !stop.ok()) {  // cancelled while queued
    EndWithoutRunning(a->pending->request, a->scene_usage.queue_s, stop, *a->pending->stream);
    return;
  }
  absl::StatusOr<EncodedImages> images =
      generator_->EncodeImages(a->pending->request.images, vision_cache_.get());
  if (!images.ok()) {
    // An image that does not decode fails the whole scene; the status names the camera.
    EndWithoutRunning(a->pending->request, a->scene_usage.queue_s, images.status(),
                      *a->pending->stream);
    return;
  }
  a->images = std::move(*images);
  a->image_tokens = a->images.num_images * generator_->model().config().image_tokens_per_image();
  a->shared_image_prefix = generator_->profile().image_prefix == ImagePrefixMode::kShared;
  a->scene_usage.image_decode_s = a->images.image_decode_s;
  a->scene_usage.vision_s = a->images.vision_s;
  a->scene_usage.flops.vision = a->images.vision_flops;
  flops_saved_vision_ += a->images.vision_flops_saved;
  Active& ref = *a;
  active_.push_back(std::move(a));
  for (int q : ref.pending->graph.order()) {
    if (ref.pending->graph.parents(q).empty()) StartQuestion(ref, q);
  }
}

void Engine::StartQuestion(Active& a, int q) {
  const SceneRequest& request = a.pending->request;
  const QuestionSpec& question = request.questions[q];
  auto fail = [&](const absl::Status& status) {
    FinishQuestion(a, q, AbortedEvent(a, q, ForQuestion(question.id, status)));
  };
  // Shared image prefix: the scene's image KV is computed once, by an image-only pass, before
  // its questions run (they then find those blocks in the prefix cache).
  if (a.shared_image_prefix && options_.enable_prefix_caching && !a.image_prefix_ready) {
    const bool pass_running = std::any_of(a.state.begin(), a.state.end(), [](auto s) {
      return s == Active::QuestionState::kHeld;
    });
    a.state[q] = Active::QuestionState::kHeld;
    if (pass_running) return;
    auto pass = std::make_unique<Sequence>();
    pass->active = &a;
    pass->question = q;
    pass->image_prefix_only = true;
    pass->tokens.assign(a.image_tokens,
                        static_cast<int32_t>(generator_->model().config().image_token_index));
    pass->runner = {&pass->tokens, a.image_tokens, &a.images.features, a.image_tokens, true};
    std::vector<ExtraKeyRange> keys;
    const int64_t per_image = generator_->model().config().image_tokens_per_image();
    for (int64_t i = 0; i < a.images.num_images; ++i) {
      keys.push_back({i * per_image, (i + 1) * per_image, a.images.content_hashes[i]});
    }
    SequenceInfo info;
    info.id = next_seq_id_++;
    info.request = reinterpret_cast<int64_t>(&a);
    info.priority = request.priority;
    info.arrival = next_arrival_++;
    info.num_prompt_tokens = a.image_tokens;
    info.block_hashes =
        KvCacheManager::PromptBlockHashes(pass->tokens, options_.kv_block_size, keys, kSharedRoot);
    if (absl::Status s = scheduler_->Add(info); !s.ok()) {
      a.image_prefix_ready = true;  // fall back: each question computes its own image KV
      a.state[q] = Active::QuestionState::kBlocked;
      StartQuestion(a, q);
      return;
    }
    seqs_[info.id] = std::move(pass);
    return;
  }

  GenerateRequest generate;
  generate.question = question.text;
  generate.sampling = request.sampling;
  generate.max_new_tokens = request.max_new_tokens;
  generate.stop_strings = request.stop_strings;
  for (int parent : a.pending->graph.parents(q)) {
    if (!a.answers[parent].has_value()) {
      fail(absl::FailedPreconditionError(
          absl::StrCat("parent ", request.questions[parent].id, " did not finish")));
      return;
    }
    generate.context.push_back(QaPair{request.questions[parent].text, *a.answers[parent]});
  }
  // The prompt with its parents' answers may no longer fit: this question fails alone.
  if (absl::Status s = generator_->ValidateRequest(generate, a.images.num_images); !s.ok()) {
    fail(s);
    return;
  }
  absl::StatusOr<std::vector<int32_t>> ids =
      generator_->PromptIds(generate, static_cast<int>(a.images.num_images));
  if (!ids.ok()) {
    fail(ids.status());
    return;
  }
  absl::StatusOr<AnswerDecoder> decoder = generator_->NewAnswerDecoder(generate);
  if (!decoder.ok()) {
    fail(decoder.status());
    return;
  }

  auto seq = std::make_unique<Sequence>();
  seq->active = &a;
  seq->question = q;
  seq->tokens = std::move(*ids);
  seq->decoder.emplace(std::move(*decoder));
  const int64_t prompt_len = static_cast<int64_t>(seq->tokens.size());
  seq->runner = {&seq->tokens, prompt_len, &a.images.features, a.image_tokens,
                 a.shared_image_prefix};

  SequenceInfo info;
  info.id = next_seq_id_++;
  info.request = reinterpret_cast<int64_t>(&a);
  info.priority = request.priority;
  info.arrival = next_arrival_++;
  info.num_prompt_tokens = prompt_len;
  if (options_.enable_prefix_caching) {
    // A block's KV depends on what its queries saw: the image blocks of a shared prefix on the
    // images alone; every other prompt block on the whole prompt (bidirectional), so the whole
    // prompt's hash is part of their keys.
    const int64_t per_image = generator_->model().config().image_tokens_per_image();
    std::vector<ExtraKeyRange> keys;
    for (int64_t i = 0; i < a.images.num_images; ++i) {
      keys.push_back({i * per_image, (i + 1) * per_image, a.images.content_hashes[i]});
    }
    const uint64_t prompt_key = KvCacheManager::ChainHash(0, seq->tokens, {});
    keys.push_back({a.shared_image_prefix ? a.image_tokens : 0, prompt_len, prompt_key});
    info.block_hashes = KvCacheManager::PromptBlockHashes(
        seq->tokens, options_.kv_block_size, keys,
        a.shared_image_prefix ? kSharedRoot : kExactRoot);
  }
  if (a.shared_image_prefix && a.image_tokens < prompt_len) {
    info.split_points = {a.image_tokens};
    info.barriers = {a.image_tokens};
  }
  if (absl::Status s = scheduler_->Add(info); !s.ok()) {
    fail(s);
    return;
  }
  a.state[q] = Active::QuestionState::kRunning;
  a.seq[q] = info.id;
  seqs_[info.id] = std::move(seq);
}

void Engine::ReleaseHeldQuestions(Active& a) {
  a.image_prefix_ready = true;
  for (int q = 0; q < static_cast<int>(a.state.size()); ++q) {
    if (a.state[q] == Active::QuestionState::kHeld) {
      a.state[q] = Active::QuestionState::kBlocked;
      StartQuestion(a, q);
    }
  }
}

AnswerEvent Engine::AbortedEvent(const Active& a, int q, absl::Status status) const {
  AnswerEvent done;
  done.kind = AnswerEvent::Kind::kDone;
  done.question_id = a.pending->request.questions[q].id;
  done.finish_reason = FinishReason::kAbort;
  done.usage = a.scene_usage;
  done.status = std::move(status);
  return done;
}

void Engine::FinishQuestion(Active& a, int q, AnswerEvent done) {
  if (a.state[q] == Active::QuestionState::kDone) return;
  a.state[q] = Active::QuestionState::kDone;
  const bool ok = done.status.ok() && done.finish_reason != FinishReason::kAbort;
  a.pending->stream->Push(std::move(done));
  --a.remaining;
  if (a.stop.ok()) {
    // Dependents whose parents have all finished start now (a failed parent fails them).
    const QuestionGraph& graph = a.pending->graph;
    for (int child : graph.order()) {
      if (a.state[child] != Active::QuestionState::kBlocked) continue;
      const std::vector<int>& parents = graph.parents(child);
      if (std::find(parents.begin(), parents.end(), q) == parents.end()) continue;
      const bool all_done = std::all_of(parents.begin(), parents.end(), [&](int p) {
        return a.state[p] == Active::QuestionState::kDone;
      });
      if (all_done || !ok) StartQuestion(a, child);
    }
  }
  if (a.remaining == 0) a.pending->stream->Close(a.stop);
}

void Engine::StopRequests() {
  for (std::unique_ptr<Active>& a : active_) {
    if (a->remaining == 0) continue;
    absl::Status stop = StopStatus(*a->pending);
    if (stop.ok()) continue;
    a->stop = stop;
    for (auto it = seqs_.begin(); it != seqs_.end();) {
      if (it->second->active != a.get()) {
        ++it;
        continue;
      }
      scheduler_->Remove(it->first);
      it = seqs_.erase(it);
    }
    for (int q = 0; q < static_cast<int>(a->state.size()); ++q) {
      if (a->state[q] == Active::QuestionState::kDone) continue;
      FinishQuestion(*a, q, AbortedEvent(*a, q, stop));
    }
  }
}

bool Engine::Step() {
  if (scheduler_->empty()) return false;
  StepPlan plan = scheduler_->Schedule();
  if (plan.chunks.empty()) {
    // Nothing fits although nothing runs: the oldest waiting question can never get its KV
    // blocks (the cache is smaller than its prompt). Fail it rather than wait forever.
    if (scheduler_->stats().running == 0) {
      for (auto& [id, seq] : seqs_) {
        Active& a = *seq->active;
        const int q = seq->question;
        const bool pass = seq->image_prefix_only;
        scheduler_->Remove(id);
        seqs_.erase(id);
        const absl::Status why = absl::ResourceExhaustedError(
            "the KV cache is too small for this prompt; raise kv_cache_bytes");
        if (pass) {
          ReleaseHeldQuestions(a);
        } else {
          FinishQuestion(a, q, AbortedEvent(a, q, ForQuestion(
                                                    a.pending->request.questions[q].id, why)));
        }
        break;
      }
    }
    return false;
  }

  // Sequences that outgrew the whole cache end where they are (their answer so far stands).
  for (SeqId id : plan.aborted) {
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    std::unique_ptr<Sequence> s = std::move(it->second);
    seqs_.erase(it);
    Active& a = *s->active;
    if (s->image_prefix_only) {
      ReleaseHeldQuestions(a);
      continue;
    }
    s->decoder->Abort();
    AnswerEvent done;
    done.kind = AnswerEvent::Kind::kDone;
    done.question_id = a.pending->request.questions[s->question].id;
    done.finish_reason = FinishReason::kLength;
    done.usage = a.scene_usage;
    done.usage.prompt_tokens = s->runner.prompt_len;
    done.usage.generated_tokens = static_cast<int64_t>(s->decoder->token_ids().size());
    a.answers[s->question] = s->decoder->text();
    FinishQuestion(a, s->question, std::move(done));
  }
  if (plan.chunks.empty()) return false;

  const absl::Time t0 = absl::Now();
  absl::StatusOr<Tensor> logits =
      runner_->Run(plan, *scheduler_, [this](SeqId id) -> const RunnerSequence& {
        return seqs_.at(id)->runner;
      });
  const double dt = Seconds(absl::Now() - t0);
  ++steps_;
  step_tokens_ += plan.num_tokens();
  step_sequences_ += static_cast<int64_t>(plan.chunks.size());
  model_s_ += dt;
  std::vector<SeqId> finished;
  std::vector<std::pair<SeqId, AnswerEvent>> done_events;
  if (!logits.ok()) {
    // A model error fails the questions of this step, not the server.
    for (const ScheduledChunk& c : plan.chunks) {
      const Sequence& s = *seqs_.at(c.id);
      finished.push_back(c.id);
      done_events.emplace_back(
          c.id, AbortedEvent(*s.active, s.question,
                             absl::InternalError(absl::StrCat("model step failed: ",
                                                              logits.status().message()))));
    }
  } else {
    const int64_t vocab = generator_->model().config().text.vocab_size;
    std::vector<float> host;
    if (!logits->empty()) {
      host.resize(static_cast<size_t>(logits->numel()));
      generator_->model().backend()->DownloadF32(*logits, host.data());
    }
    int64_t row = 0;
    for (const ScheduledChunk& c : plan.chunks) {
      Sequence& s = *seqs_.at(c.id);
      if (!s.scheduled) {
        // Its first chunk starts past the tokens the prefix cache already held: those are the
        // prefill FLOPs it saved.
        s.scheduled = true;
        if (c.begin > 0) flops_saved_prefix_ += runner_->ChunkFlops(0, c.begin, false);
      }
      const bool prefill = c.end - c.begin > 1 || c.begin < s.runner.prompt_len;
      (prefill ? s.prefill_s : s.decode_s) += dt;
      (prefill ? s.flops.prefill : s.flops.decode) += runner_->ChunkFlops(c.begin, c.end, c.samples);
      if (!c.samples) continue;
      absl::Span<const float> l(host.data() + row * vocab, static_cast<size_t>(vocab));
      ++row;
      Active& a = *s.active;
      if (s.image_prefix_only) {
        a.image_pass_flops += s.flops.prefill;
        finished.push_back(c.id);
        continue;
      }
      const std::string& qid = a.pending->request.questions[s.question].id;
      absl::StatusOr<DecodeStep> step = s.decoder->Next(l);
      if (!s.first_token) s.first_token = absl::Now();
      AnswerEvent done;
      done.kind = AnswerEvent::Kind::kDone;
      done.question_id = qid;
      if (!step.ok()) {
        done.finish_reason = FinishReason::kAbort;
        done.status = ForQuestion(qid, step.status());
      } else {
        s.tokens.push_back(step->token);
        if (!step->text.empty()) {
          AnswerEvent delta;
          delta.kind = AnswerEvent::Kind::kDelta;
          delta.question_id = qid;
          delta.text = step->text;
          a.pending->stream->Push(std::move(delta));
        }
        if (!step->finish) continue;
        done.finish_reason = *step->finish;
      }
      QuestionUsage& u = done.usage;
      u = a.scene_usage;
      u.prompt_tokens = s.runner.prompt_len;
      u.generated_tokens = static_cast<int64_t>(s.decoder->token_ids().size());
      u.prefill_s = s.prefill_s;
      u.decode_s = s.decode_s;
      u.flops.prefill = s.flops.prefill + std::exchange(a.image_pass_flops, 0.0);
      u.flops.decode = s.flops.decode;
      u.ttft_s = Seconds(*s.first_token - a.pending->submit_time);
      if (done.status.ok()) a.answers[s.question] = s.decoder->text();
      finished.push_back(c.id);
      done_events.emplace_back(c.id, std::move(done));
    }
  }
  scheduler_->StepDone(plan, finished);
  for (SeqId id : finished) {
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    std::unique_ptr<Sequence> s = std::move(it->second);
    seqs_.erase(it);
    Active& a = *s->active;
    if (s->image_prefix_only) {
      // The scene's image KV is in the prefix cache: its held questions start.
      ReleaseHeldQuestions(a);
      continue;
    }
    for (auto& [eid, event] : done_events) {
      if (eid == id) FinishQuestion(a, s->question, std::move(event));
    }
  }
  return true;
}

void Engine::PublishStats() {
  const SchedulerStats ss = scheduler_->stats();
  const KvCacheStats& ks = kv_manager_->stats();
  const VisionCacheStats vs = vision_cache_->stats();
  EngineStats s;
  s.waiting_sequences = ss.waiting;
  s.running_sequences = ss.running;
  s.kv_cache_usage_ratio = kv_manager_->UsageRatio();
  s.num_preemptions = ss.preemptions;
  s.prefix_cache_queries = ks.prefix_cache_queries;
  s.prefix_cache_hits = ks.prefix_cache_hits;
  s.vision_cache_queries = vs.queries;
  s.vision_cache_hits = vs.hits;
  s.steps = steps_;
  s.step_tokens = step_tokens_;
  s.step_sequences = step_sequences_;
  s.busy_s = busy_s_;
  s.admit_s = admit_s_;
  s.model_s = model_s_;
  s.flops_saved_vision = flops_saved_vision_;
  // Prefill FLOPs the prefix cache saved: per sequence, the FLOPs of the cached tokens it did
  // not compute (counted at its first chunk).
  s.flops_saved_prefix = flops_saved_prefix_;
  absl::MutexLock lock(&mu_);
  published_ = s;
  running_ = static_cast<int64_t>(active_.size());
}

}  // namespace drivelm::engine
