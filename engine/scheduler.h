// Scheduler: iteration-level (continuous) batching over the paged KV cache. Each step it picks
// which sequences (one per question being answered) run and how many of their tokens: running
// decodes first (one token each), then prefills of waiting sequences within a per-step token
// budget. When the cache cannot hold a running sequence's next token it preempts the
// lowest-priority running sequence (its blocks are freed; it is recomputed later, exactly).
//
// The scheduler is pure policy and bookkeeping: it owns the sequences' scheduling state and
// drives KvCacheManager (allocation, append, free, computed-token marks); the engine owns the
// sequences' payload (token ids, images, samplers) keyed by SeqId and runs the model.
//
// Prefix-LM prefills cannot be split anywhere: a prompt whose tokens attend bidirectionally must
// be computed in one forward. Each sequence therefore lists the positions where its prefill may
// be split (`split_points`); a chunk always ends at one of them or at the end of the tokens to
// compute. Tokens after `prefix_end` (generated tokens being recomputed after a preemption) are
// causal and may be split anywhere.
//
// Fairness: waiting sequences are admitted by priority (higher first), then by how many
// sequences their request already has running (fewer first, so one scene's 20 questions do not
// starve other scenes), then by arrival order (FCFS); the request counts are updated as each
// sequence is admitted. Admission is head-of-line: when the next sequence in that order does not
// fit (free blocks or token budget) nothing behind it is admitted this step, so a large prompt is
// never overtaken forever. No sequence is admitted in a step that preempted one. A preempted
// sequence keeps its arrival and recomputes all its known tokens (prompt + sampled) as a prefill.
// Prefix-cache hits start a prefill at a block boundary, which may lie between split points: the
// engine passes block_hashes only for blocks whose KV does not depend on later tokens.
//
// Threading: not thread-safe; the engine thread is the only caller.
#ifndef DRIVELM_ENGINE_SCHEDULER_H_
#define DRIVELM_ENGINE_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/cache/kv_cache_manager.h"

namespace drivelm::engine {

using SeqId = KvCacheManager::SeqId;

struct SchedulerConfig {
  int64_t max_batched_tokens = 2048;  // tokens per step (a longer unsplittable prefill still
                                      // runs, alone among prefills, so it cannot starve)
  int max_running = 64;               // sequences in the running batch (effectively at most
                                      // max_batched_tokens, so that every running decode fits)
};

// What the scheduler is told about a new sequence.
struct SequenceInfo {
  SeqId id = 0;
  int64_t request = 0;   // the request (scene) it belongs to, for fairness
  int priority = 0;      // higher first
  int64_t arrival = 0;   // monotonic: lower arrived earlier
  int64_t num_prompt_tokens = 0;
  // Hashes of the prompt's full blocks (KvCacheManager::PromptBlockHashes); empty disables
  // prefix sharing for this sequence.
  std::vector<uint64_t> block_hashes;
  // Positions in (0, num_prompt_tokens) where a prefill may be split, ascending. Empty: the
  // prompt is computed in one forward.
  std::vector<int64_t> split_points;
  // Positions in (0, num_prompt_tokens) that no chunk may cross, ascending (each must also be a
  // split point): the end of a shared image prefix, whose tokens must be computed attending only
  // among themselves.
  std::vector<int64_t> barriers;
};

enum class SequenceState { kWaiting, kRunning };

// One sequence's work in a step: compute tokens [begin, end) (their ids are the engine's).
struct ScheduledChunk {
  SeqId id = 0;
  int64_t begin = 0;
  int64_t end = 0;
  // The chunk ends at the last known token: the step yields logits for it and the engine samples
  // the next token. False for a prefill chunk that stops short of the end.
  bool samples = false;
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;   // decodes first, then prefills
  std::vector<SeqId> preempted;         // moved back to waiting this step (blocks freed)
  // Removed this step (blocks freed, id forgotten): their tokens need more blocks than the whole
  // cache holds, so they could never run again. The engine fails them (e.g. finish "length").
  std::vector<SeqId> aborted;
  std::vector<BlockCopy> copies;        // copy-on-write copies to do before the forward
  int64_t num_tokens() const {
    int64_t n = 0;
    for (const ScheduledChunk& c : chunks) n += c.end - c.begin;
    return n;
  }
};

struct SchedulerStats {
  int64_t waiting = 0;
  int64_t running = 0;
  int64_t preemptions = 0;       // total
  int64_t prefix_hit_tokens = 0; // total tokens found in the prefix cache at admission
};

class Scheduler {
 public:
  // `kv` outlives the scheduler.
  Scheduler(const SchedulerConfig& config, KvCacheManager* kv);

  // Adds a waiting sequence. InvalidArgument for a duplicate id, no prompt tokens, split points
  // out of order or range, or a prompt that could never fit in the whole cache.
  absl::Status Add(const SequenceInfo& info);

  // Plans the next step. Mutates the KV bookkeeping (allocations, appends, preemptions) for the
  // planned chunks; the engine must run exactly these chunks and then call StepDone.
  StepPlan Schedule();

  // After the forward of `plan`: marks the chunks' tokens computed, and for each chunk with
  // `samples` whose sequence did not finish, counts one new token (the sampled one, whose KV is
  // computed by its next decode). Sequences listed in `finished` are removed and their blocks
  // freed (the engine passes those whose answer ended this step).
  void StepDone(const StepPlan& plan, absl::Span<const SeqId> finished);

  // Removes a sequence at any time (cancelled, deadline, failed); frees its blocks. No-op for an
  // unknown id.
  void Remove(SeqId id);

  // Total tokens of a sequence (prompt + sampled), its computed tokens, and its state.
  int64_t NumTokens(SeqId id) const;
  int64_t NumComputed(SeqId id) const;
  std::optional<SequenceState> State(SeqId id) const;
  // The sequence's block table (valid until the next Schedule/StepDone/Remove).
  absl::Span<const int32_t> BlockTable(SeqId id) const;

  bool empty() const { return seqs_.empty(); }
  SchedulerStats stats() const;

 private:
  struct Seq {
    SequenceInfo info;
    SequenceState state = SequenceState::kWaiting;
    int64_t num_tokens = 0;    // prompt + sampled tokens
    int64_t num_computed = 0;  // tokens whose KV is in the cache
    bool allocated = false;    // holds blocks in the KvCacheManager
    // Hashes given to Allocate: the prompt's, extended at preemption with those the engine added
    // (KvCacheManager::AddBlockHashes) for generated tokens, so that a recomputed sequence can
    // find its own blocks if they were not evicted.
    std::vector<uint64_t> block_hashes;
  };

  // End of the next prefill chunk of `s` starting at s.num_computed within `budget` tokens;
  // nullopt when not even the smallest legal chunk fits (unless `force`).
  std::optional<int64_t> ChunkEnd(const Seq& s, int64_t budget, bool force) const;
  // Frees `s`'s blocks and puts it back to waiting (recompute later).
  void Preempt(Seq& s);
  // Whether `s`'s tokens need more blocks than the whole cache has.
  bool NeverFits(const Seq& s) const;
  // The waiting sequence to admit next (fairness order, with `running_per_request` counting the
  // running sequences of each request); nullptr when none waits.
  Seq* NextToAdmit(const std::map<int64_t, int64_t>& running_per_request);

  SchedulerConfig config_;
  KvCacheManager* kv_;
  std::map<SeqId, Seq> seqs_;
  int64_t preemptions_ = 0;
  int64_t prefix_hit_tokens_ = 0;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_SCHEDULER_H_
