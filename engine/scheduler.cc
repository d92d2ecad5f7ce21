#include "engine/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace drivelm::engine {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Service order among running sequences: higher priority, then earlier arrival, then lower id
// (a total order, so plans are deterministic). Decodes are served in this order and the
// preemption victim is the last sequence in it.
bool ServedBefore(const SequenceInfo& a, const SequenceInfo& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.arrival != b.arrival) return a.arrival < b.arrival;
  return a.id < b.id;
}

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager* kv)
    : config_(config), kv_(kv) {
  // The constructor cannot fail: non-positive limits would stall every step, so they are read
  // as 1. max_running is capped at max_batched_tokens so that all running decodes (one token
  // each) always fit in a step and are never starved.
  config_.max_batched_tokens = std::max<int64_t>(config_.max_batched_tokens, 1);
  config_.max_running = static_cast<int>(
      std::clamp<int64_t>(config_.max_running, 1, config_.max_batched_tokens));
}

absl::Status Scheduler::Add(const SequenceInfo& info) {
  if (seqs_.count(info.id) > 0 || kv_->HasSequence(info.id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Scheduler::Add: sequence id ", info.id, " is already in use"));
  }
  if (info.num_prompt_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("Scheduler::Add: sequence ", info.id,
                                                   " has num_prompt_tokens ",
                                                   info.num_prompt_tokens, ", expected >= 1"));
  }
  int64_t prev = 0;
  for (size_t i = 0; i < info.split_points.size(); ++i) {
    const int64_t p = info.split_points[i];
    if (p <= prev || p >= info.num_prompt_tokens) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Scheduler::Add: sequence ", info.id, " split_points[", i, "] = ", p,
          ", expected strictly ascending in (0, ", info.num_prompt_tokens, ") after ", prev));
    }
    prev = p;
  }
  for (int64_t b : info.barriers) {
    if (!std::binary_search(info.split_points.begin(), info.split_points.end(), b)) {
      return absl::InvalidArgumentError(absl::StrCat("Scheduler::Add: sequence ", info.id,
                                                     " barrier ", b, " is not a split point"));
    }
  }
  const int64_t bs = kv_->block_size();
  if (static_cast<int64_t>(info.block_hashes.size()) > info.num_prompt_tokens / bs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Scheduler::Add: sequence ", info.id, " has ", info.block_hashes.size(),
        " block hashes but its ", info.num_prompt_tokens, " prompt tokens fill only ",
        info.num_prompt_tokens / bs, " blocks of ", bs));
  }
  if (CeilDiv(info.num_prompt_tokens, bs) > kv_->num_blocks()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Scheduler::Add: sequence ", info.id, " has ", info.num_prompt_tokens,
        " prompt tokens, which need ", CeilDiv(info.num_prompt_tokens, bs),
        " KV blocks; the whole cache has ", kv_->num_blocks(), " blocks of ", bs));
  }
  Seq s;
  s.info = info;
  s.num_tokens = info.num_prompt_tokens;
  s.block_hashes = info.block_hashes;
  seqs_.emplace(info.id, std::move(s));
  return absl::OkStatus();
}

bool Scheduler::NeverFits(const Seq& s) const {
  return CeilDiv(s.num_tokens, kv_->block_size()) > kv_->num_blocks();
}

std::optional<int64_t> Scheduler::ChunkEnd(const Seq& s, int64_t budget, bool force) const {
  const int64_t start = s.num_computed;
  // A barrier ahead of `start` ends the prompt as far as this chunk is concerned.
  int64_t cap = s.num_tokens;
  for (int64_t b : s.info.barriers) {
    if (b > start) {
      cap = std::min(cap, b);
      break;
    }
  }
  const int64_t n = cap;
  const int64_t prompt = std::min(s.info.num_prompt_tokens, cap);
  const int64_t limit = std::min(n, start + std::max<int64_t>(budget, 0));
  // Tokens past the prompt are causal: any end in (max(start, prompt), n] is legal.
  if (limit > start && limit > prompt) return limit;
  // Within the prompt: the largest split point or the prompt end in (start, limit].
  std::optional<int64_t> best;
  if (prompt > start && prompt <= limit) best = prompt;
  if (!best.has_value()) {
    for (auto it = s.info.split_points.rbegin(); it != s.info.split_points.rend(); ++it) {
      if (*it <= start) break;
      if (*it <= limit) {
        best = *it;
        break;
      }
    }
  }
  if (best.has_value() || !force) return best;
  // Forced: the smallest legal end, however far it is.
  auto it = std::upper_bound(s.info.split_points.begin(), s.info.split_points.end(), start);
  if (it != s.info.split_points.end()) return *it;
  if (start < prompt) return prompt;
  return start + 1;
}

void Scheduler::Preempt(Seq& s) {
  // Keep the hashes the engine added for generated tokens: the recomputation passes them to
  // Allocate and reuses whatever of this sequence's blocks survive in the prefix cache.
  const std::vector<uint64_t>& kv_hashes = kv_->BlockHashes(s.info.id);
  if (kv_hashes.size() > s.block_hashes.size()) s.block_hashes = kv_hashes;
  kv_->Free(s.info.id);
  s.state = SequenceState::kWaiting;
  s.num_computed = 0;
  s.allocated = false;
  ++preemptions_;
}

Scheduler::Seq* Scheduler::NextToAdmit(const std::map<int64_t, int64_t>& running_per_request) {
  Seq* best = nullptr;
  int64_t best_running = 0;
  for (auto& [id, s] : seqs_) {
    if (s.state != SequenceState::kWaiting) continue;
    auto it = running_per_request.find(s.info.request);
    const int64_t running = it == running_per_request.end() ? 0 : it->second;
    bool better = best == nullptr;
    if (!better) {
      if (s.info.priority != best->info.priority) {
        better = s.info.priority > best->info.priority;
      } else if (running != best_running) {
        better = running < best_running;
      } else if (s.info.arrival != best->info.arrival) {
        better = s.info.arrival < best->info.arrival;
      } else {
        better = s.info.id < best->info.id;
      }
    }
    if (better) {
      best = &s;
      best_running = running;
    }
  }
  return best;
}

StepPlan Scheduler::Schedule() {
  StepPlan plan;
  // Running sequences in service order; entries become nullptr when preempted or aborted.
  std::vector<Seq*> running;
  for (auto& [id, s] : seqs_) {
    if (s.state == SequenceState::kRunning) running.push_back(&s);
  }
  std::sort(running.begin(), running.end(),
            [](const Seq* a, const Seq* b) { return ServedBefore(a->info, b->info); });
  // running[0, live_end) may still hold live entries; victims are taken from its back.
  size_t live_end = running.size();
  auto pop_victim = [&]() -> Seq* {
    while (live_end > 0 && running[live_end - 1] == nullptr) --live_end;
    if (live_end == 0) return nullptr;
    Seq* v = running[--live_end];
    running[live_end] = nullptr;
    return v;
  };

  // (1) Decodes: one token each, the slot reserved by Append. A sequence whose computed tokens
  // trail its known tokens by one and that holds no slot for the last one is decoding; one in a
  // chunked prefill already holds slots for all its tokens.
  // (Decided before any Append, which makes a decoding sequence look like a prefill.)
  std::vector<char> decoding(running.size(), 0);
  for (size_t i = 0; i < running.size(); ++i) {
    decoding[i] = running[i]->num_tokens > kv_->NumTokens(running[i]->info.id);
  }
  for (size_t i = 0; i < live_end; ++i) {
    Seq* s = running[i];
    if (s == nullptr || !decoding[i]) continue;  // prefills in progress: step (2a)
    const SeqId id = s->info.id;
    const int64_t need = s->num_tokens - kv_->NumTokens(id);
    if (NeverFits(*s)) {
      // Alone in an empty cache it still would not fit: preempting others cannot help.
      running[i] = nullptr;
      kv_->Free(id);
      plan.aborted.push_back(id);
      seqs_.erase(id);
      continue;
    }
    bool self_preempted = false;
    while (!kv_->CanAppend(id, need)) {
      Seq* victim = pop_victim();  // never null: `s` itself is live
      Preempt(*victim);
      plan.preempted.push_back(victim->info.id);
      if (victim == s) {
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) break;  // everything after `s` was preempted before it
    absl::StatusOr<std::optional<BlockCopy>> copy = kv_->Append(id, need);
    if (!copy.ok()) {
      // CanAppend held, so this is unreachable; recompute the sequence later rather than run it
      // with a missing slot.
      running[i] = nullptr;
      Preempt(*s);
      plan.preempted.push_back(id);
      continue;
    }
    if (copy->has_value()) plan.copies.push_back(**copy);
    plan.chunks.push_back({id, s->num_computed, s->num_tokens, /*samples=*/true});
  }
  int64_t budget = config_.max_batched_tokens - static_cast<int64_t>(plan.chunks.size());
  bool any_prefill = false;
  auto schedule_prefill = [&](Seq& s) -> bool {
    const std::optional<int64_t> end =
        ChunkEnd(s, budget, /*force=*/!any_prefill && budget > 0);
    if (!end.has_value()) return false;
    plan.chunks.push_back({s.info.id, s.num_computed, *end, *end == s.num_tokens});
    budget -= *end - s.num_computed;
    any_prefill = true;
    return true;
  };

  // (2a) Running sequences in the middle of a chunked prefill continue it, in service order. One
  // whose next legal chunk does not fit waits; it becomes the step's first prefill (forced)
  // once those before it have finished their prefills.
  std::map<int64_t, int64_t> running_per_request;
  int64_t num_running = 0;
  for (size_t i = 0; i < live_end; ++i) {
    Seq* s = running[i];
    if (s == nullptr) continue;
    ++num_running;
    ++running_per_request[s->info.request];
    if (decoding[i]) continue;  // planned above
    schedule_prefill(*s);
  }

  // (2b) Admissions. None in a step that preempted: the cache is short, and readmitting what was
  // just preempted would thrash. Head-of-line: when the next sequence in fairness order does not
  // fit (blocks or budget), nothing behind it is admitted, so a large prompt cannot be overtaken
  // forever by smaller ones; it gets the blocks as running sequences finish.
  if (plan.preempted.empty()) {
    while (num_running < config_.max_running && budget > 0) {
      Seq* s = NextToAdmit(running_per_request);
      if (s == nullptr) break;
      const SeqId id = s->info.id;
      if (NeverFits(*s)) {
        // A preempted sequence that grew past the whole cache.
        kv_->Free(id);
        plan.aborted.push_back(id);
        seqs_.erase(id);
        continue;
      }
      if (!kv_->CanAllocate(s->num_tokens, s->block_hashes)) break;
      // The allocation covers every known token: the prompt, and for a preempted sequence its
      // sampled tokens too. Allocate leaves at least the last token to compute.
      absl::StatusOr<int64_t> cached = kv_->Allocate(id, s->num_tokens, s->block_hashes);
      if (!cached.ok()) break;  // CanAllocate held: unreachable
      s->state = SequenceState::kRunning;
      s->allocated = true;
      s->num_computed = *cached;
      prefix_hit_tokens_ += *cached;
      ++num_running;
      ++running_per_request[s->info.request];
      // Admitted but no legal chunk fits the rest of the budget: it keeps its blocks and
      // continues as a running prefill next step.
      if (!schedule_prefill(*s)) break;
    }
  }
  return plan;
}

void Scheduler::StepDone(const StepPlan& plan, absl::Span<const SeqId> finished) {
  for (const ScheduledChunk& c : plan.chunks) {
    auto it = seqs_.find(c.id);
    // Skips chunks of sequences removed since Schedule (cancelled mid-step).
    if (it == seqs_.end()) continue;
    Seq& s = it->second;
    if (s.state != SequenceState::kRunning || c.begin != s.num_computed || c.end <= c.begin ||
        c.end > s.num_tokens) {
      continue;  // not this plan's chunk for this sequence (a stale plan)
    }
    // Cannot fail: the chunk lies within the slots reserved by Allocate/Append and starts at the
    // computed count the manager holds.
    kv_->MarkComputed(c.id, c.end).IgnoreError();
    s.num_computed = c.end;
    if (c.samples && std::find(finished.begin(), finished.end(), c.id) == finished.end()) {
      ++s.num_tokens;
    }
  }
  for (SeqId id : finished) Remove(id);
}

void Scheduler::Remove(SeqId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  if (it->second.allocated) kv_->Free(id);
  seqs_.erase(it);
}

int64_t Scheduler::NumTokens(SeqId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? 0 : it->second.num_tokens;
}

int64_t Scheduler::NumComputed(SeqId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? 0 : it->second.num_computed;
}

std::optional<SequenceState> Scheduler::State(SeqId id) const {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return std::nullopt;
  return it->second.state;
}

absl::Span<const int32_t> Scheduler::BlockTable(SeqId id) const {
  return kv_->BlockTable(id);
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats st;
  for (const auto& [id, s] : seqs_) {
    switch (s.state) {
      case SequenceState::kWaiting:
        ++st.waiting;
        break;
      case SequenceState::kRunning:
        ++st.running;
        break;
    }
  }
  st.preemptions = preemptions_;
  st.prefix_hit_tokens = prefix_hit_tokens_;
  return st;
}

}  // namespace drivelm::engine
