// Tests of the Scheduler over a real KvCacheManager. A fake "model" (no tensors) runs each plan:
// it checks that every chunk reads correct KV for the positions before it from the slots its
// block table names, writes its own positions, samples deterministic tokens and reports finished
// sequences. The randomized test runs thousands of steps with arrivals, priorities, split
// points, shared prefixes, cancellations (also between Schedule and StepDone), preemptions and
// aborts, checking the plan rules and the manager's invariants after every step.
#include "engine/scheduler.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cache/kv_cache_manager.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  h *= 0xBF58476D1CE4E5B9ULL;
  return h ^ (h >> 31);
}

// Smallest legal chunk end of a prefill starting at `begin` (for the forced-prefill rule).
int64_t SmallestLegalEnd(const SequenceInfo& info, int64_t begin) {
  for (int64_t p : info.split_points) {
    if (p > begin) return p;
  }
  return begin < info.num_prompt_tokens ? info.num_prompt_tokens : begin + 1;
}

bool LegalEnd(const SequenceInfo& info, int64_t end) {
  if (end >= info.num_prompt_tokens) return true;
  return std::binary_search(info.split_points.begin(), info.split_points.end(), end);
}

struct SimSeq {
  SequenceInfo info;
  std::vector<int32_t> tokens;  // prompt + sampled
  int64_t target = 0;           // finishes when it has this many tokens
  bool add_hashes = false;      // the "engine" registers hashes of generated blocks
  int64_t preempted_at = -1;    // tokens when last preempted (-1: never)
  std::vector<uint64_t> fp;     // fp[p]: fingerprint of tokens [0, p]

  uint64_t Fingerprint(int64_t p) {
    while (static_cast<int64_t>(fp.size()) <= p) {
      const size_t q = fp.size();
      fp.push_back(Mix(q == 0 ? 1 : fp[q - 1], static_cast<uint64_t>(tokens[q])));
    }
    return fp[p];
  }
};

struct StepRecord {
  StepPlan plan;
  std::vector<SeqId> finished;
  int64_t forced_prefills = 0;
  int64_t readmissions = 0;
};

// A KvCacheManager, a Scheduler over it and a fake model.
class Sim {
 public:
  Sim(KvCacheConfig kv_config, SchedulerConfig config) {
    absl::StatusOr<KvCacheManager> kv = KvCacheManager::Create(kv_config);
    EXPECT_TRUE(kv.ok()) << kv.status();
    kv_ = std::make_unique<KvCacheManager>(*std::move(kv));
    sched_ = std::make_unique<Scheduler>(config, kv_.get());
    config_ = config;
    pool_.assign(static_cast<size_t>(kv_config.num_blocks) * kv_config.block_size, 0);
  }

  KvCacheManager& kv() { return *kv_; }
  Scheduler& sched() { return *sched_; }
  std::map<SeqId, SimSeq>& seqs() { return seqs_; }

  // Adds a sequence with `prompt` tokens, finishing at `target` tokens.
  absl::Status Add(SequenceInfo info, std::vector<int32_t> prompt, int64_t target,
                   bool hashes = true, bool add_hashes = false) {
    info.num_prompt_tokens = static_cast<int64_t>(prompt.size());
    if (hashes) {
      info.block_hashes = KvCacheManager::PromptBlockHashes(prompt, kv_->block_size(), {});
    }
    absl::Status st = sched_->Add(info);
    if (!st.ok()) return st;
    SimSeq s;
    s.info = info;
    s.tokens = std::move(prompt);
    s.target = target;
    s.add_hashes = add_hashes;
    seqs_.emplace(info.id, std::move(s));
    return absl::OkStatus();
  }

  // Schedules, checks the plan, runs the fake model, calls StepDone and checks the state.
  // `finish_early(id)` may end a sequence at a sampled token; `cancel_mid_step` names sequences
  // to Remove between Schedule and StepDone.
  template <typename FinishEarly>
  StepRecord Step(FinishEarly finish_early, const std::vector<SeqId>& cancel_mid_step = {}) {
    StepRecord rec;
    // Before: which running sequences are decoding.
    std::set<SeqId> decoding;
    std::set<SeqId> was_waiting;
    for (auto& [id, s] : seqs_) {
      const std::optional<SequenceState> st = sched_->State(id);
      if (st == SequenceState::kRunning &&
          kv_->NumTokens(id) == sched_->NumTokens(id) - 1) {
        decoding.insert(id);
      }
      if (st == SequenceState::kWaiting) was_waiting.insert(id);
    }
    const int64_t preemptions_before = sched_->stats().preemptions;

    rec.plan = sched_->Schedule();
    const StepPlan& plan = rec.plan;
    EXPECT_TRUE(plan.copies.empty()) << "no forks, so no copy-on-write";
    EXPECT_EQ(sched_->stats().preemptions - preemptions_before,
              static_cast<int64_t>(plan.preempted.size()));

    for (SeqId id : plan.aborted) {
      EXPECT_FALSE(sched_->State(id).has_value()) << id;
      EXPECT_FALSE(kv_->HasSequence(id)) << id;
      const SimSeq& s = seqs_.at(id);
      EXPECT_GT((static_cast<int64_t>(s.tokens.size()) + kv_->block_size() - 1) /
                    kv_->block_size(),
                kv_->num_blocks())
          << "aborted sequence " << id << " would fit in the cache";
      seqs_.erase(id);
    }
    for (SeqId id : plan.preempted) {
      EXPECT_EQ(sched_->State(id), SequenceState::kWaiting) << id;
      EXPECT_EQ(sched_->NumComputed(id), 0) << id;
      EXPECT_FALSE(kv_->HasSequence(id)) << id;
      seqs_.at(id).preempted_at = static_cast<int64_t>(seqs_.at(id).tokens.size());
    }

    // Plan rules.
    std::set<SeqId> in_plan;
    bool seen_prefill = false;
    int64_t num_decodes = 0;
    int64_t num_prefills = 0;
    const ScheduledChunk* first_prefill = nullptr;
    for (const ScheduledChunk& c : plan.chunks) {
      EXPECT_TRUE(in_plan.insert(c.id).second) << "sequence " << c.id << " twice in a plan";
      if (!seqs_.count(c.id)) {
        ADD_FAILURE() << "unknown sequence " << c.id << " in the plan";
        continue;
      }
      const SimSeq& s = seqs_.at(c.id);
      EXPECT_EQ(sched_->State(c.id), SequenceState::kRunning) << c.id;
      EXPECT_EQ(c.begin, sched_->NumComputed(c.id)) << c.id;
      EXPECT_EQ(c.begin, kv_->NumComputedTokens(c.id)) << c.id;
      EXPECT_LT(c.begin, c.end) << c.id;
      EXPECT_EQ(sched_->NumTokens(c.id), static_cast<int64_t>(s.tokens.size())) << c.id;
      EXPECT_LE(c.end, sched_->NumTokens(c.id)) << c.id;
      EXPECT_GE(kv_->NumTokens(c.id), c.end) << "slots reserved for the chunk " << c.id;
      EXPECT_EQ(c.samples, c.end == sched_->NumTokens(c.id)) << c.id;
      EXPECT_TRUE(LegalEnd(s.info, c.end)) << "chunk of " << c.id << " ends at " << c.end;
      if (decoding.count(c.id)) {
        EXPECT_FALSE(seen_prefill) << "decode of " << c.id << " after a prefill";
        EXPECT_EQ(c.end - c.begin, 1) << c.id;
        ++num_decodes;
      } else {
        if (!seen_prefill) first_prefill = &c;
        seen_prefill = true;
        ++num_prefills;
      }
      if (was_waiting.count(c.id)) {
        // (Re)admitted: the allocation covers every known token, prompt + sampled.
        EXPECT_EQ(kv_->NumTokens(c.id), static_cast<int64_t>(s.tokens.size())) << c.id;
        if (s.preempted_at >= 0) {
          EXPECT_EQ(static_cast<int64_t>(s.tokens.size()), s.preempted_at) << c.id;
          ++rec.readmissions;
        }
      }
    }
    // Decodes are never starved: every decoding sequence still running has its decode.
    for (SeqId id : decoding) {
      if (sched_->State(id) == SequenceState::kRunning) {
        EXPECT_TRUE(in_plan.count(id)) << "decode of " << id << " not scheduled";
      }
    }
    // The token budget: exceeded only by a lone forced prefill whose smallest legal chunk
    // alone is larger than what the decodes leave.
    if (plan.num_tokens() > config_.max_batched_tokens) {
      EXPECT_EQ(num_prefills, 1) << "budget exceeded with several prefills";
      if (first_prefill != nullptr) {
        const SimSeq& s = seqs_.at(first_prefill->id);
        EXPECT_EQ(first_prefill->end, SmallestLegalEnd(s.info, first_prefill->begin));
        EXPECT_GT(first_prefill->end - first_prefill->begin,
                  config_.max_batched_tokens - num_decodes);
        EXPECT_LT(num_decodes, config_.max_batched_tokens);
        ++rec.forced_prefills;
      }
    }
    int64_t running = 0;
    for (auto& [id, s] : seqs_) running += sched_->State(id) == SequenceState::kRunning;
    EXPECT_LE(running, config_.max_running);

    for (SeqId id : cancel_mid_step) {
      sched_->Remove(id);
      EXPECT_FALSE(kv_->HasSequence(id));
      seqs_.erase(id);
    }

    // The fake model: read KV before each chunk, write the chunk's, sample.
    const int64_t bs = kv_->block_size();
    for (const ScheduledChunk& c : plan.chunks) {
      auto it = seqs_.find(c.id);
      if (it == seqs_.end()) continue;  // cancelled mid-step
      SimSeq& s = it->second;
      const std::vector<int32_t>& table = kv_->BlockTable(c.id);
      auto slot = [&](int64_t p) { return static_cast<size_t>(table[p / bs]) * bs + p % bs; };
      for (int64_t p = 0; p < c.begin; ++p) {
        if (pool_[slot(p)] != s.Fingerprint(p)) {
          ADD_FAILURE() << "sequence " << c.id << " reads wrong KV at position " << p;
          break;
        }
      }
      for (int64_t p = c.begin; p < c.end; ++p) pool_[slot(p)] = s.Fingerprint(p);
      if (c.samples) {
        const int32_t next = static_cast<int32_t>(s.Fingerprint(c.end - 1) % 1000);
        if (static_cast<int64_t>(s.tokens.size()) + 1 >= s.target || finish_early(c.id)) {
          rec.finished.push_back(c.id);
        } else {
          s.tokens.push_back(next);
        }
      }
    }
    sched_->StepDone(plan, rec.finished);
    for (SeqId id : rec.finished) {
      EXPECT_FALSE(sched_->State(id).has_value());
      EXPECT_FALSE(kv_->HasSequence(id));
      seqs_.erase(id);
    }
    // The engine's part of prefix caching for generated tokens.
    for (auto& [id, s] : seqs_) {
      if (!s.add_hashes || !kv_->HasSequence(id)) continue;
      const int64_t full = kv_->NumTokens(id) / bs;
      const std::vector<uint64_t> all = KvCacheManager::PromptBlockHashes(
          absl::MakeConstSpan(s.tokens).subspan(0, full * bs), bs, {});
      const size_t have = kv_->BlockHashes(id).size();
      if (all.size() > have) {
        EXPECT_TRUE(kv_->AddBlockHashes(id, absl::MakeConstSpan(all).subspan(have)).ok());
      }
    }
    CheckState();
    return rec;
  }

  StepRecord Step() {
    return Step([](SeqId) { return false; });
  }

  void CheckState() {
    const absl::Status inv = kv_->CheckInvariants();
    EXPECT_TRUE(inv.ok()) << inv << "\n" << kv_->DebugString();
    int64_t running = 0;
    int64_t waiting = 0;
    for (auto& [id, s] : seqs_) {
      const std::optional<SequenceState> st = sched_->State(id);
      ASSERT_TRUE(st.has_value()) << id;
      EXPECT_EQ(sched_->NumTokens(id), static_cast<int64_t>(s.tokens.size())) << id;
      if (*st == SequenceState::kRunning) {
        ++running;
        EXPECT_TRUE(kv_->HasSequence(id)) << id;
        EXPECT_EQ(kv_->NumComputedTokens(id), sched_->NumComputed(id)) << id;
        const int64_t slots = kv_->NumTokens(id);
        EXPECT_TRUE(slots == sched_->NumTokens(id) || slots == sched_->NumTokens(id) - 1)
            << id << ": " << slots << " slots for " << sched_->NumTokens(id) << " tokens";
        EXPECT_LT(sched_->NumComputed(id), sched_->NumTokens(id)) << id;
        EXPECT_EQ(sched_->BlockTable(id).size(), kv_->BlockTable(id).size()) << id;
      } else {
        ++waiting;
        EXPECT_FALSE(kv_->HasSequence(id)) << id;
        EXPECT_EQ(sched_->NumComputed(id), 0) << id;
        EXPECT_TRUE(sched_->BlockTable(id).empty()) << id;
      }
    }
    EXPECT_EQ(sched_->stats().running, running);
    EXPECT_EQ(sched_->stats().waiting, waiting);
    EXPECT_EQ(kv_->num_sequences(), running);
    EXPECT_EQ(sched_->empty(), seqs_.empty());
  }

 private:
  std::unique_ptr<KvCacheManager> kv_;
  std::unique_ptr<Scheduler> sched_;
  SchedulerConfig config_;
  std::vector<uint64_t> pool_;  // [num_blocks * block_size] fingerprints written by the model
  std::map<SeqId, SimSeq> seqs_;
};

std::vector<int32_t> Tokens(int64_t n, int32_t seed) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((seed * 131 + i * 7) % 1000);
  return t;
}

SequenceInfo Info(SeqId id, int64_t request = 0, int priority = 0, int64_t arrival = -1,
                  std::vector<int64_t> split_points = {}) {
  SequenceInfo info;
  info.id = id;
  info.request = request;
  info.priority = priority;
  info.arrival = arrival < 0 ? id : arrival;
  info.split_points = std::move(split_points);
  return info;
}

std::vector<SeqId> ChunkIds(const StepPlan& plan) {
  std::vector<SeqId> ids;
  for (const ScheduledChunk& c : plan.chunks) ids.push_back(c.id);
  return ids;
}

TEST(SchedulerTest, SingleSequencePrefillThenDecodes) {
  Sim sim({.block_size = 4, .num_blocks = 16}, {.max_batched_tokens = 64, .max_running = 4});
  ASSERT_TRUE(sim.Add(Info(1), Tokens(10, 1), /*target=*/20).ok());
  EXPECT_EQ(sim.sched().State(1), SequenceState::kWaiting);
  StepRecord r = sim.Step();
  ASSERT_EQ(r.plan.chunks.size(), 1u);
  EXPECT_EQ(r.plan.chunks[0].begin, 0);
  EXPECT_EQ(r.plan.chunks[0].end, 10);
  EXPECT_TRUE(r.plan.chunks[0].samples);
  EXPECT_EQ(sim.sched().NumTokens(1), 11);
  EXPECT_EQ(sim.sched().NumComputed(1), 10);
  for (int64_t n = 11; n < 20; ++n) {
    r = sim.Step();
    ASSERT_EQ(r.plan.chunks.size(), 1u);
    EXPECT_EQ(r.plan.chunks[0].begin, n - 1);
    EXPECT_EQ(r.plan.chunks[0].end, n);
    EXPECT_TRUE(r.plan.chunks[0].samples);
  }
  EXPECT_EQ(r.finished, std::vector<SeqId>{1});
  EXPECT_TRUE(sim.sched().empty());
  EXPECT_EQ(sim.kv().num_used_blocks(), 0);
  EXPECT_TRUE(sim.sched().Schedule().chunks.empty());
}

TEST(SchedulerTest, AddRejectsBadInput) {
  absl::StatusOr<KvCacheManager> kv = KvCacheManager::Create({.block_size = 4, .num_blocks = 4});
  ASSERT_TRUE(kv.ok());
  Scheduler sched({}, &*kv);
  SequenceInfo ok = Info(1);
  ok.num_prompt_tokens = 8;
  ok.split_points = {2, 5};
  ok.block_hashes = {11, 12};
  ASSERT_TRUE(sched.Add(ok).ok());
  EXPECT_EQ(sched.Add(ok).code(), absl::StatusCode::kInvalidArgument);  // duplicate

  auto with = [](auto mutate) {
    SequenceInfo i = Info(2);
    i.num_prompt_tokens = 8;
    mutate(i);
    return i;
  };
  const std::vector<SequenceInfo> bad = {
      with([](SequenceInfo& i) { i.num_prompt_tokens = 0; }),
      with([](SequenceInfo& i) { i.split_points = {0}; }),
      with([](SequenceInfo& i) { i.split_points = {8}; }),
      with([](SequenceInfo& i) { i.split_points = {3, 3}; }),
      with([](SequenceInfo& i) { i.split_points = {5, 2}; }),
      with([](SequenceInfo& i) { i.block_hashes = {1, 2, 3}; }),  // 8 tokens fill 2 blocks
      with([](SequenceInfo& i) { i.num_prompt_tokens = 17; }),    // 5 blocks > 4
  };
  for (const SequenceInfo& i : bad) {
    const absl::Status st = sched.Add(i);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_FALSE(sched.State(2).has_value());
  }
  EXPECT_TRUE(sched.Add(with([](SequenceInfo& i) { i.num_prompt_tokens = 16; })).ok());
  EXPECT_EQ(sched.stats().waiting, 2);
  sched.Remove(2);
  sched.Remove(2);  // unknown: no-op
  EXPECT_EQ(sched.stats().waiting, 1);
  EXPECT_EQ(sched.NumTokens(99), 0);
  EXPECT_EQ(sched.NumComputed(99), 0);
  EXPECT_TRUE(sched.BlockTable(99).empty());
}

TEST(SchedulerTest, MaxBatchedTokensAndSplitPoints) {
  Sim sim({.block_size = 4, .num_blocks = 64}, {.max_batched_tokens = 25, .max_running = 8});
  ASSERT_TRUE(sim.Add(Info(1, 0, 0, -1, {10, 20, 30}), Tokens(40, 1), 42).ok());
  std::vector<std::pair<int64_t, int64_t>> chunks;
  while (sim.sched().NumComputed(1) < 40) {
    StepRecord r = sim.Step();
    ASSERT_EQ(r.plan.chunks.size(), 1u);
    chunks.emplace_back(r.plan.chunks[0].begin, r.plan.chunks[0].end);
  }
  // The largest split point within 25 tokens each time.
  EXPECT_EQ(chunks, (std::vector<std::pair<int64_t, int64_t>>{{0, 20}, {20, 40}}));

  // Budget 15: one split at a time; two sequences share the budget.
  Sim sim2({.block_size = 4, .num_blocks = 64}, {.max_batched_tokens = 15, .max_running = 8});
  ASSERT_TRUE(sim2.Add(Info(1, 0, 0, -1, {10, 20, 30}), Tokens(40, 1), 42).ok());
  ASSERT_TRUE(sim2.Add(Info(2, 1, 0, -1, {3, 6}), Tokens(9, 2), 12).ok());
  StepRecord r = sim2.Step();
  ASSERT_EQ(r.plan.chunks.size(), 2u);
  EXPECT_EQ(r.plan.chunks[0].id, 1);
  EXPECT_EQ(r.plan.chunks[0].end, 10);
  EXPECT_FALSE(r.plan.chunks[0].samples);
  EXPECT_EQ(r.plan.chunks[1].id, 2);
  EXPECT_EQ(r.plan.chunks[1].end, 3);  // 5 tokens left: split point 3, not 6
  r = sim2.Step();
  // Running prefills continue in service order: 1 takes [10, 20), 2 gets what is left.
  ASSERT_EQ(r.plan.chunks.size(), 2u);
  EXPECT_EQ(r.plan.chunks[0].begin, 10);
  EXPECT_EQ(r.plan.chunks[0].end, 20);
  EXPECT_EQ(r.plan.chunks[1].begin, 3);
  EXPECT_EQ(r.plan.chunks[1].end, 6);
  int guard = 0;
  while (!sim2.sched().empty() && ++guard < 100) {
    r = sim2.Step();
    EXPECT_LE(r.plan.num_tokens(), 15);
  }
  EXPECT_TRUE(sim2.sched().empty());
  EXPECT_EQ(sim2.kv().num_used_blocks(), 0);
}

TEST(SchedulerTest, BarriersAreNeverCrossed) {
  // Budget for the whole prompt, but the shared image prefix [0, 16) must be its own chunk.
  Sim sim({.block_size = 4, .num_blocks = 64}, {.max_batched_tokens = 100, .max_running = 8});
  SequenceInfo info = Info(1, 0, 0, -1, {16});
  info.barriers = {16};
  ASSERT_TRUE(sim.Add(info, Tokens(30, 1), 42).ok());
  std::vector<std::pair<int64_t, int64_t>> chunks;
  while (sim.sched().NumComputed(1) < 30) {
    StepRecord r = sim.Step();
    ASSERT_EQ(r.plan.chunks.size(), 1u);
    chunks.emplace_back(r.plan.chunks[0].begin, r.plan.chunks[0].end);
  }
  EXPECT_EQ(chunks, (std::vector<std::pair<int64_t, int64_t>>{{0, 16}, {16, 30}}));
  // A barrier that is not a split point is refused.
  Sim sim2({.block_size = 4, .num_blocks = 64}, {});
  SequenceInfo bad = Info(2, 0, 0, -1, {8});
  bad.barriers = {16};
  EXPECT_FALSE(sim2.Add(bad, Tokens(30, 1), 42).ok());
}

TEST(SchedulerTest, ForcedAtomicPrefillRunsAloneAmongPrefills) {
  Sim sim({.block_size = 16, .num_blocks = 512}, {.max_batched_tokens = 64, .max_running = 8});
  ASSERT_TRUE(sim.Add(Info(1), Tokens(1600, 1), 1601).ok());
  ASSERT_TRUE(sim.Add(Info(2), Tokens(1600, 2), 1601).ok());
  ASSERT_TRUE(sim.Add(Info(3), Tokens(8, 3), 10).ok());
  StepRecord r = sim.Step();
  ASSERT_EQ(r.plan.chunks.size(), 1u);
  EXPECT_EQ(r.plan.chunks[0].id, 1);
  EXPECT_EQ(r.plan.chunks[0].end, 1600);
  EXPECT_EQ(r.forced_prefills, 1);
  EXPECT_EQ(r.finished, std::vector<SeqId>{1});
  // Head-of-line: 3 does not overtake 2, which is forced next.
  r = sim.Step();
  EXPECT_EQ(ChunkIds(r.plan), std::vector<SeqId>{2});
  r = sim.Step();
  EXPECT_EQ(ChunkIds(r.plan), std::vector<SeqId>{3});
}

TEST(SchedulerTest, DecodesFirstAndNeverStarvedByLongPrefills) {
  Sim sim({.block_size = 16, .num_blocks = 512}, {.max_batched_tokens = 64, .max_running = 8});
  ASSERT_TRUE(sim.Add(Info(1), Tokens(4, 1), 60).ok());
  sim.Step();  // 1's prefill
  // An atomic 1,600-token prefix and a splittable one arrive while 1 decodes.
  std::vector<int64_t> splits;
  for (int64_t p = 32; p < 1600; p += 32) splits.push_back(p);
  ASSERT_TRUE(sim.Add(Info(2), Tokens(1600, 2), 1620).ok());
  ASSERT_TRUE(sim.Add(Info(3, 0, 0, -1, splits), Tokens(1600, 3), 1620).ok());
  int steps = 0;
  while (sim.sched().State(1).has_value()) {
    StepRecord r = sim.Step();
    ASSERT_FALSE(r.plan.chunks.empty());
    EXPECT_EQ(r.plan.chunks[0].id, 1) << "the decode of 1 comes first";
    EXPECT_EQ(r.plan.chunks[0].end - r.plan.chunks[0].begin, 1);
    if (steps == 0) {
      ASSERT_EQ(r.plan.chunks.size(), 2u);
      EXPECT_EQ(r.plan.chunks[1].id, 2);
      EXPECT_EQ(r.plan.chunks[1].end, 1600);  // forced, alone among prefills
    } else if (sim.sched().State(3) == SequenceState::kRunning &&
               sim.sched().NumComputed(3) < 1600) {
      EXPECT_LE(r.plan.num_tokens(), 64);
    }
    ++steps;
  }
  EXPECT_EQ(steps, 55);
}

TEST(SchedulerTest, FairnessAcrossRequestsAndPriority) {
  Sim sim({.block_size = 4, .num_blocks = 256}, {.max_batched_tokens = 1000, .max_running = 4});
  // Request 0: a scene of 20 questions; request 1 arrives later with one question.
  for (SeqId i = 0; i < 20; ++i) {
    ASSERT_TRUE(sim.Add(Info(i, /*request=*/0), Tokens(6, i), 1000).ok());
  }
  ASSERT_TRUE(sim.Add(Info(100, /*request=*/1, 0, /*arrival=*/100), Tokens(6, 100), 1000).ok());
  StepRecord r = sim.Step();
  // 0 first (earlier), then 100 (its request has none running), then 1 and 2.
  EXPECT_EQ(ChunkIds(r.plan), (std::vector<SeqId>{0, 100, 1, 2}));

  // Once request 0 has running sequences, a later request is admitted before its remaining ones.
  Sim sim2({.block_size = 4, .num_blocks = 256}, {.max_batched_tokens = 1000, .max_running = 2});
  for (SeqId i = 0; i < 20; ++i) {
    ASSERT_TRUE(sim2.Add(Info(i, 0), Tokens(6, i), i == 0 ? 8 : 1000).ok());
  }
  EXPECT_EQ(ChunkIds(sim2.Step().plan), (std::vector<SeqId>{0, 1}));
  ASSERT_TRUE(sim2.Add(Info(100, 1, 0, 100), Tokens(6, 100), 1000).ok());
  r = sim2.Step();  // 0 finishes (8 tokens)
  EXPECT_EQ(r.finished, std::vector<SeqId>{0});
  r = sim2.Step();
  EXPECT_EQ(ChunkIds(r.plan), (std::vector<SeqId>{1, 100}));
  // A higher priority beats an earlier arrival.
  ASSERT_TRUE(sim2.Add(Info(200, 2, /*priority=*/1, 200), Tokens(6, 200), 1000).ok());
  sim2.sched().Remove(1);
  sim2.seqs().erase(1);
  r = sim2.Step();
  EXPECT_EQ(ChunkIds(r.plan), (std::vector<SeqId>{100, 200}));
}

TEST(SchedulerTest, PreemptionRecomputesExactlyPromptPlusSampled) {
  // 6 blocks of 4 slots; three sequences of 6 prompt tokens take 2 blocks each.
  Sim sim({.block_size = 4, .num_blocks = 6}, {.max_batched_tokens = 64, .max_running = 8});
  for (SeqId i = 0; i < 3; ++i) {
    ASSERT_TRUE(sim.Add(Info(i), Tokens(6, i), 12, /*hashes=*/false).ok());
  }
  StepRecord r = sim.Step();
  EXPECT_EQ(r.plan.chunks.size(), 3u);
  EXPECT_EQ(sim.kv().num_free_blocks(), 0);
  // Tokens 7 and 8 fit in the second blocks; the decode writing position 8 needs a third block.
  r = sim.Step();
  EXPECT_TRUE(r.plan.preempted.empty());
  r = sim.Step();
  EXPECT_TRUE(r.plan.preempted.empty());
  r = sim.Step();
  // Sequence 0 needs a block: the latest arrival (2) is preempted, freeing 2 blocks for 0 and 1.
  EXPECT_EQ(r.plan.preempted, std::vector<SeqId>{2});
  EXPECT_EQ(ChunkIds(r.plan), (std::vector<SeqId>{0, 1}));
  EXPECT_EQ(sim.sched().stats().preemptions, 1);
  EXPECT_EQ(sim.sched().stats().waiting, 1);
  EXPECT_EQ(sim.sched().NumTokens(2), 9);
  EXPECT_EQ(sim.sched().NumComputed(2), 0);
  // 0 and 1 decode to 12 tokens and finish; then 2 comes back and recomputes its prompt +
  // sampled tokens in one chunk.
  int guard = 0;
  int readmitted = 0;
  while (!sim.sched().empty() && ++guard < 100) {
    r = sim.Step();
    for (const ScheduledChunk& c : r.plan.chunks) {
      if (c.begin == 0) {
        EXPECT_EQ(c.end, 9) << c.id;
        EXPECT_TRUE(c.samples);
        ++readmitted;
      }
    }
    EXPECT_EQ(r.readmissions, static_cast<int64_t>(std::count_if(
                                  r.plan.chunks.begin(), r.plan.chunks.end(),
                                  [](const ScheduledChunk& c) { return c.begin == 0; })));
  }
  EXPECT_EQ(readmitted, 1);
  EXPECT_TRUE(sim.sched().empty());
  EXPECT_EQ(sim.kv().num_used_blocks(), 0);
  EXPECT_TRUE(sim.kv().CheckInvariants().ok());
}

TEST(SchedulerTest, DecodePreemptsItselfWhenItIsTheLowest) {
  // 4 blocks of 4: 0 (6 tokens) still has room in its second block, 1 (8 tokens) needs a third.
  Sim sim({.block_size = 4, .num_blocks = 4}, {.max_batched_tokens = 64, .max_running = 8});
  ASSERT_TRUE(sim.Add(Info(0), Tokens(6, 0), 9, false).ok());
  ASSERT_TRUE(sim.Add(Info(1), Tokens(8, 1), 12, false).ok());
  StepRecord r = sim.Step();
  EXPECT_EQ(ChunkIds(r.plan), (std::vector<SeqId>{0, 1}));
  r = sim.Step();
  EXPECT_EQ(r.plan.preempted, std::vector<SeqId>{1});
  EXPECT_EQ(ChunkIds(r.plan), std::vector<SeqId>{0});
  r = sim.Step();  // 0 finishes; 1 needs 3 blocks and 2 are free: it waits
  EXPECT_EQ(r.finished, std::vector<SeqId>{0});
  EXPECT_EQ(ChunkIds(r.plan), std::vector<SeqId>{0});
  r = sim.Step();
  ASSERT_EQ(r.plan.chunks.size(), 1u);
  EXPECT_EQ(r.plan.chunks[0].id, 1);
  EXPECT_EQ(r.plan.chunks[0].begin, 0);
  EXPECT_EQ(r.plan.chunks[0].end, 9);
  EXPECT_EQ(r.readmissions, 1);
}

TEST(SchedulerTest, PreemptsLowestPriorityNotLatest) {
  Sim sim({.block_size = 4, .num_blocks = 6}, {.max_batched_tokens = 64, .max_running = 8});
  ASSERT_TRUE(sim.Add(Info(0, 0, /*priority=*/1), Tokens(6, 0), 12, false).ok());
  ASSERT_TRUE(sim.Add(Info(1, 1, /*priority=*/0), Tokens(6, 1), 12, false).ok());
  ASSERT_TRUE(sim.Add(Info(2, 2, /*priority=*/1), Tokens(6, 2), 12, false).ok());
  StepRecord r;
  for (int i = 0; i < 4; ++i) r = sim.Step();
  EXPECT_EQ(r.plan.preempted, std::vector<SeqId>{1});
  EXPECT_EQ(ChunkIds(r.plan), (std::vector<SeqId>{0, 2}));
}

TEST(SchedulerTest, ChunksBeyondThePromptSplitAnywhereWhenRecomputed) {
  // High-priority 1 grows until the low-priority 2 is preempted; 2 comes back with budget 3.
  Sim sim({.block_size = 4, .num_blocks = 8}, {.max_batched_tokens = 3, .max_running = 2});
  ASSERT_TRUE(sim.Add(Info(1, 0, 1), Tokens(3, 1), 28, false).ok());
  ASSERT_TRUE(sim.Add(Info(2, 1, 0), Tokens(4, 2), 28, false).ok());
  int guard = 0;
  int64_t preempted_tokens = 0;
  while (sim.sched().State(1).has_value() && ++guard < 100) {
    StepRecord r = sim.Step();
    if (!r.plan.preempted.empty()) {
      EXPECT_EQ(r.plan.preempted, std::vector<SeqId>{2});
      preempted_tokens = sim.sched().NumTokens(2);
    }
  }
  ASSERT_GT(preempted_tokens, 8);
  std::vector<std::pair<int64_t, int64_t>> chunks;
  while (sim.sched().NumComputed(2) < preempted_tokens && ++guard < 200) {
    StepRecord r = sim.Step();
    ASSERT_EQ(r.plan.chunks.size(), 1u);
    chunks.emplace_back(r.plan.chunks[0].begin, r.plan.chunks[0].end);
  }
  // The prompt is atomic (4 > 3: forced), then causal chunks of the budget.
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0], std::make_pair(int64_t{0}, int64_t{4}));
  for (size_t i = 1; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].second - chunks[i].first, 3);
  }
  EXPECT_EQ(chunks.back().second, preempted_tokens);
}

TEST(SchedulerTest, SequenceLargerThanTheCacheIsAborted) {
  Sim sim({.block_size = 4, .num_blocks = 4}, {.max_batched_tokens = 64, .max_running = 8});
  ASSERT_TRUE(sim.Add(Info(1), Tokens(10, 1), 100).ok());
  std::vector<SeqId> aborted;
  int guard = 0;
  while (!sim.sched().empty() && ++guard < 100) {
    StepRecord r = sim.Step();
    aborted.insert(aborted.end(), r.plan.aborted.begin(), r.plan.aborted.end());
    if (!r.plan.aborted.empty()) {
      EXPECT_TRUE(r.plan.preempted.empty()) << "aborted, not preempted";
    }
  }
  EXPECT_EQ(aborted, std::vector<SeqId>{1});
  EXPECT_EQ(guard, 8);  // prefill, decodes of positions 10..15; position 16 needs a 5th block
  EXPECT_EQ(sim.kv().num_used_blocks(), 0);
}

TEST(SchedulerTest, PrefixCacheHitsOnceBlocksAreComputed) {
  Sim sim({.block_size = 4, .num_blocks = 32}, {.max_batched_tokens = 64, .max_running = 8});
  const std::vector<int32_t> prompt = Tokens(10, 7);
  ASSERT_TRUE(sim.Add(Info(1), prompt, 14).ok());
  ASSERT_TRUE(sim.Add(Info(2), prompt, 14).ok());  // same step: nothing computed yet
  StepRecord r = sim.Step();
  ASSERT_EQ(r.plan.chunks.size(), 2u);
  EXPECT_EQ(r.plan.chunks[1].begin, 0);
  EXPECT_EQ(sim.sched().stats().prefix_hit_tokens, 0);
  ASSERT_TRUE(sim.Add(Info(3), prompt, 14).ok());
  r = sim.Step();
  ASSERT_EQ(r.plan.chunks.size(), 3u);
  EXPECT_EQ(r.plan.chunks[2].id, 3);
  EXPECT_EQ(r.plan.chunks[2].begin, 8);  // two full blocks cached
  EXPECT_EQ(r.plan.chunks[2].end, 10);
  EXPECT_EQ(sim.sched().stats().prefix_hit_tokens, 8);
  // Everything cached: the last token is still computed for its logits.
  const std::vector<int32_t> eight(prompt.begin(), prompt.begin() + 8);
  ASSERT_TRUE(sim.Add(Info(4), eight, 10).ok());
  r = sim.Step();
  ASSERT_EQ(r.plan.chunks.size(), 4u);
  EXPECT_EQ(r.plan.chunks[3].begin, 4);
  EXPECT_EQ(r.plan.chunks[3].end, 8);
  EXPECT_EQ(sim.sched().stats().prefix_hit_tokens, 12);
  // Different text: no hits.
  ASSERT_TRUE(sim.Add(Info(5), Tokens(10, 8), 12).ok());
  r = sim.Step();
  EXPECT_EQ(r.plan.chunks.back().id, 5);
  EXPECT_EQ(r.plan.chunks.back().begin, 0);
  int guard = 0;
  while (!sim.sched().empty() && ++guard < 100) sim.Step();
  EXPECT_EQ(sim.kv().num_used_blocks(), 0);
}

// Random arrivals, lengths, priorities, split points, shared prefixes, cancellations (also
// between Schedule and StepDone), early finishes, preemptions and aborts; every step checked.
TEST(SchedulerTest, RandomizedInvariants) {
  int64_t total_steps = 0;
  int64_t preemptions = 0;
  int64_t readmissions = 0;
  int64_t forced = 0;
  int64_t aborts = 0;
  int64_t hits = 0;
  int64_t mid_step_cancels = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto uni = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    const int32_t bs = static_cast<int32_t>(uni(1, 6));
    const int32_t num_blocks = static_cast<int32_t>(uni(6, 40));
    const SchedulerConfig config{.max_batched_tokens = uni(4, 48),
                                 .max_running = static_cast<int>(uni(1, 8))};
    Sim sim({.block_size = bs, .num_blocks = num_blocks}, config);
    // Shared text prefixes per request ("scenes").
    std::vector<std::vector<int32_t>> scenes(4);
    for (size_t i = 0; i < scenes.size(); ++i) scenes[i] = Tokens(uni(0, 3 * bs), i + 50);
    SeqId next_id = 0;
    int64_t arrival = 0;
    const int steps = 250;
    for (int step = 0; step < steps + 2000 && (step < steps || !sim.sched().empty()); ++step) {
      if (step < steps && uni(0, 2) == 0) {
        for (int k = uni(1, 3); k > 0; --k) {
          const int64_t request = uni(0, 3);
          std::vector<int32_t> prompt = scenes[request];
          const int64_t extra = uni(1, 2 * bs + 6);
          for (int64_t j = 0; j < extra; ++j) prompt.push_back(static_cast<int32_t>(uni(0, 999)));
          std::vector<int64_t> splits;
          for (int64_t p = 1; p < static_cast<int64_t>(prompt.size()); ++p) {
            if (uni(0, 3) == 0) splits.push_back(p);
          }
          const int64_t n = static_cast<int64_t>(prompt.size());
          // Now and then longer than the whole cache: aborted when it outgrows it.
          const int64_t target =
              uni(0, 15) == 0 ? num_blocks * bs + uni(1, 4) : n + uni(1, 3 * bs + 4);
          const absl::Status st =
              sim.Add(Info(next_id, request, static_cast<int>(uni(0, 2)), arrival++, splits),
                      prompt, target, /*hashes=*/uni(0, 3) != 0, /*add_hashes=*/uni(0, 1) == 1);
          if ((n + bs - 1) / bs > num_blocks) {
            EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
          } else {
            EXPECT_TRUE(st.ok()) << st;
          }
          ++next_id;
        }
      }
      // Cancellations between steps.
      if (!sim.seqs().empty() && uni(0, 19) == 0) {
        auto it = sim.seqs().begin();
        std::advance(it, uni(0, static_cast<int64_t>(sim.seqs().size()) - 1));
        const SeqId id = it->first;
        sim.sched().Remove(id);
        EXPECT_FALSE(sim.kv().HasSequence(id));
        sim.seqs().erase(id);
      }
      // A cancellation of a running sequence between Schedule and StepDone.
      std::vector<SeqId> mid;
      if (uni(0, 29) == 0) {
        for (auto& [id, s] : sim.seqs()) {
          if (sim.sched().State(id) == SequenceState::kRunning) {
            mid.push_back(id);
            break;
          }
        }
      }
      mid_step_cancels += static_cast<int64_t>(mid.size());
      StepRecord r = sim.Step([&](SeqId) { return uni(0, 24) == 0; }, mid);
      ++total_steps;
      preemptions += static_cast<int64_t>(r.plan.preempted.size());
      readmissions += r.readmissions;
      forced += r.forced_prefills;
      aborts += static_cast<int64_t>(r.plan.aborted.size());
      if (::testing::Test::HasFailure()) {
        FAIL() << "seed " << seed << " step " << step << "\n" << sim.kv().DebugString();
      }
    }
    EXPECT_TRUE(sim.sched().empty()) << "seed " << seed << ": not drained (livelock?)";
    EXPECT_EQ(sim.kv().num_used_blocks(), 0) << "seed " << seed;
    EXPECT_TRUE(sim.kv().CheckInvariants().ok()) << "seed " << seed;
    hits += sim.sched().stats().prefix_hit_tokens;
  }
  // Every path was exercised.
  EXPECT_GT(total_steps, 10000);
  EXPECT_GT(preemptions, 0);
  EXPECT_GT(readmissions, 0);
  EXPECT_GT(forced, 0);
  EXPECT_GT(aborts, 0);
  EXPECT_GT(hits, 0);
  EXPECT_GT(mid_step_cancels, 0);
  std::printf("steps=%lld preemptions=%lld readmissions=%lld forced=%lld aborts=%lld "
              "hit_tokens=%lld mid_step_cancels=%lld\n",
              static_cast<long long>(total_steps), static_cast<long long>(preemptions),
              static_cast<long long>(readmissions), static_cast<long long>(forced),
              static_cast<long long>(aborts), static_cast<long long>(hits),
              static_cast<long long>(mid_step_cancels));
}

}  // namespace
}  // namespace drivelm::engine
