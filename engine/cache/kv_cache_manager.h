// KvCacheManager: the bookkeeping of a paged KV cache (vLLM-style): fixed-size blocks of
// `block_size` token slots, per-sequence block tables, reference counts, copy-on-write sharing
// and a prefix cache keyed by a hash chain over block contents.
//
// Pure bookkeeping: block ids and hashes, no tensors. The model runner owns the K/V pools, one
// [num_blocks * block_size, kv_heads, head_dim] tensor per layer for K and one for V, and stores
// the KV of a sequence's token at position p in slot
//   BlockTable(seq)[p / block_size] * block_size + p % block_size.
//
// Life of a sequence (all calls from the engine thread):
//   CanAllocate / Allocate(seq, prompt_tokens, prompt_block_hashes)  -> num cached tokens c;
//       the runner computes tokens [c, prompt_tokens) (possibly in chunks) and after each forward
//       calls MarkComputed(seq, tokens computed so far).
//   CanAppend / Append(seq, n) before each decode step reserves slots for n new tokens; if it
//       returns a BlockCopy, the runner copies those slots before the step's forward.
//   AddBlockHashes(seq, ...) as generated tokens fill blocks, so that they can be shared too
//       (a preempted sequence then finds its own blocks when it is recomputed).
//   Free(seq) when the sequence finishes, is cancelled or is preempted: all the same here.
//
// Block states: every block is exactly one of
//   free       ref count 0, no registered hash, on the free list;
//   evictable  ref count 0, hash registered in the prefix cache, on the LRU list: its KV is kept
//              until the block is needed for a fresh allocation;
//   referenced ref count > 0 (ref count = number of block tables holding it), hash or not.
// Fresh blocks come from the free list first, then from the least recently used evictable block
// (its hash entry is dropped: an "eviction").
//
// Prefix cache. A full block's hash is ChainHash(hash of the previous block, the block's token
// ids, extra keys such as the content hashes of the images whose tokens lie in the block), so a
// block hash stands for the whole prefix up to the end of that block, images included: the same
// text with different images does not share. A block's hash is registered (becomes shareable)
// only once its tokens are all computed (MarkComputed) and its hash is known (Allocate /
// AddBlockHashes); a sequence whose prompt starts with registered blocks reuses them (ref count
// +1) instead of recomputing them. Hashes are 64-bit: a collision (probability ~n^2 / 2^65 for n
// distinct blocks) would share the wrong KV; this is accepted, as in vLLM.
//
// Decide, then mutate: each mutating call either succeeds completely or returns an error and
// changes nothing. CanAllocate(...) is true exactly when Allocate(...) with the same arguments
// would succeed; the same for CanAppend / Append.
//
// Threading: not thread-safe. The engine thread owns the manager and is the only caller; other
// threads read its gauges through values the engine publishes.
#ifndef DRIVELM_ENGINE_CACHE_KV_CACHE_MANAGER_H_
#define DRIVELM_ENGINE_CACHE_KV_CACHE_MANAGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace drivelm::engine {

struct KvCacheConfig {
  int32_t block_size = 16;  // token slots per block
  int32_t num_blocks = 0;   // see KvCacheManager::NumBlocksForBudget
  bool enable_prefix_caching = true;
};

// Token positions [begin, end) of a prompt carry `key` in their blocks' hashes (an image's
// content hash over that image's tokens).
struct ExtraKeyRange {
  int64_t begin = 0;
  int64_t end = 0;
  uint64_t key = 0;
};

// Slots the runner must copy (all layers, K and V) before the forward that writes into `dst`:
// slot src * block_size + i -> dst * block_size + i for i in [0, num_tokens).
struct BlockCopy {
  int32_t src = 0;
  int32_t dst = 0;
  int32_t num_tokens = 0;
};

// Monotonic counters since construction.
struct KvCacheStats {
  // In tokens, as vLLM counts them: every Allocate with prefix caching enabled queries all of its
  // num_tokens; hits are the tokens whose KV was reused (whole blocks).
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  int64_t evictions = 0;  // evictable blocks reclaimed for fresh allocations (hash dropped)
};

class KvCacheManager {
 public:
  using SeqId = int64_t;
  using BlockId = int32_t;

  // Parent hash of a sequence's first block.
  static constexpr uint64_t kRootBlockHash = 0x6472697665C0FFEEULL;

  // How many blocks fit in `budget_bytes` when one block holds K and V of `block_size` tokens in
  // every layer: 2 * num_layers * block_size * kv_heads * head_dim * dtype_bytes bytes.
  // InvalidArgument for a non-positive argument or a budget below one block; capped at INT32_MAX
  // (block ids are int32).
  static absl::StatusOr<int32_t> NumBlocksForBudget(int64_t budget_bytes, int64_t block_size,
                                                    int64_t num_layers, int64_t kv_heads,
                                                    int64_t head_dim, int64_t dtype_bytes);

  // The hash of a block: XXH64 over (parent, tokens, extra_keys) serialized little-endian with
  // their lengths, so it is the same on every run, process and machine.
  static uint64_t ChainHash(uint64_t parent, absl::Span<const int32_t> tokens,
                            absl::Span<const uint64_t> extra_keys);

  // The hash chain of the full blocks of `tokens` (tokens.size() / block_size hashes; a partial
  // last block has none). Block i's extra keys are, for each range of `extra_keys` overlapping
  // the block's positions, in the given order: the range's key and its overlap with the block
  // ((local begin << 32) | local end), so the same images placed differently do not share.
  // `root` seeds the chain (e.g. with a model id if several models shared one cache). An empty
  // result for block_size <= 0.
  static std::vector<uint64_t> PromptBlockHashes(absl::Span<const int32_t> tokens,
                                                 int32_t block_size,
                                                 absl::Span<const ExtraKeyRange> extra_keys,
                                                 uint64_t root = kRootBlockHash);

  // InvalidArgument unless block_size >= 1 and num_blocks >= 1.
  static absl::StatusOr<KvCacheManager> Create(const KvCacheConfig& config);

  // ---- Sequences ---------------------------------------------------------------------------

  // Whether Allocate(seq, num_tokens, block_hashes) would succeed for a sequence id not in use.
  bool CanAllocate(int64_t num_tokens, absl::Span<const uint64_t> block_hashes) const;
  // Fresh blocks Allocate would take from the free/evictable pool (counting cached blocks it
  // would revive from the evictable list); -1 for invalid arguments. For the scheduler's budget.
  int64_t BlocksNeededToAllocate(int64_t num_tokens, absl::Span<const uint64_t> block_hashes) const;

  // Creates sequence `seq` holding `num_tokens` (>= 1) token slots, e.g. a prompt, or a
  // preempted sequence's prompt + generated tokens when it is recomputed. `block_hashes` are the
  // chain hashes of its leading full blocks (at most num_tokens / block_size; fewer is fine, more
  // can be added with AddBlockHashes). With prefix caching on, the longest run of leading blocks
  // whose hashes are registered is reused, except that at least the last token is always left to
  // compute (the runner needs its logits): at most (num_tokens - 1) / block_size blocks.
  // Returns the number of tokens whose KV is already there (a multiple of block_size); the runner
  // computes the rest; NumComputedTokens(seq) starts there.
  // Errors: InvalidArgument (num_tokens < 1, too many hashes), AlreadyExists (seq in use),
  // ResourceExhausted (not enough free + evictable blocks).
  absl::StatusOr<int64_t> Allocate(SeqId seq, int64_t num_tokens,
                                   absl::Span<const uint64_t> block_hashes);

  // Whether Append(seq, n) would succeed.
  bool CanAppend(SeqId seq, int64_t n) const;
  // Reserves slots for `n` (>= 0) more tokens (decode, or draft tokens to verify), taking fresh
  // blocks as the last one fills. If the last block is partial and shared with another sequence
  // (after Fork), it is first replaced by a private copy: the returned BlockCopy must be executed
  // by the runner before it writes this sequence's new tokens. Errors: NotFound, InvalidArgument
  // (n < 0), ResourceExhausted.
  absl::StatusOr<std::optional<BlockCopy>> Append(SeqId seq, int64_t n);

  // Records that the KV of tokens [0, num_computed) of `seq` is written (after a forward).
  // Full blocks within that range whose hash is known become shareable. Errors: NotFound,
  // InvalidArgument unless NumComputedTokens(seq) <= num_computed <= NumTokens(seq).
  absl::Status MarkComputed(SeqId seq, int64_t num_computed);

  // Adds the hashes of the sequence's next full blocks (continuing its chain; see ChainHash), e.g.
  // as generated tokens fill blocks. Errors: NotFound, InvalidArgument if the sequence would then
  // have more hashes than full blocks (NumTokens / block_size).
  absl::Status AddBlockHashes(SeqId seq, absl::Span<const uint64_t> block_hashes);

  // Creates `child` sharing all of `parent`'s blocks (ref count +1 each, no new blocks): parallel
  // samples or beams from one prefix. Writes into a shared partial block go through Append's
  // copy-on-write. Errors: NotFound (parent), AlreadyExists (child), FailedPrecondition unless
  // all of the parent's tokens are computed (the child would otherwise write into shared blocks).
  absl::Status Fork(SeqId parent, SeqId child);

  // Shrinks `seq` to its first `num_tokens` tokens (rejected draft tokens): blocks past the end
  // are released, NumComputedTokens and the block hashes are clipped. Errors: NotFound,
  // InvalidArgument unless 0 <= num_tokens <= NumTokens(seq).
  absl::Status Truncate(SeqId seq, int64_t num_tokens);

  // Releases the sequence's blocks (finish, cancel, preempt). Blocks whose ref count drops to 0
  // become evictable if their hash is registered (tail blocks first in eviction order), else
  // free. An unknown id is ignored, so a cancel racing a finish is harmless.
  void Free(SeqId seq);

  // ---- Queries -----------------------------------------------------------------------------

  bool HasSequence(SeqId seq) const;
  int64_t num_sequences() const { return static_cast<int64_t>(seqs_.size()); }
  // The sequence's blocks in position order (empty for an unknown id). The reference is valid
  // until the next non-const call.
  const std::vector<BlockId>& BlockTable(SeqId seq) const;
  // Token slots reserved (0 for an unknown id).
  int64_t NumTokens(SeqId seq) const;
  // Tokens whose KV is written (0 for an unknown id).
  int64_t NumComputedTokens(SeqId seq) const;
  // Known hashes of the leading full blocks (empty for an unknown id); valid until the next
  // non-const call.
  const std::vector<uint64_t>& BlockHashes(SeqId seq) const;

  int32_t block_size() const { return config_.block_size; }
  int32_t num_blocks() const { return config_.num_blocks; }
  bool prefix_caching_enabled() const { return config_.enable_prefix_caching; }
  // Blocks available to fresh allocations: free + evictable.
  int64_t num_free_blocks() const {
    return static_cast<int64_t>(free_list_.size()) + num_evictable_;
  }
  int64_t num_evictable_blocks() const { return num_evictable_; }
  // Blocks with ref count > 0.
  int64_t num_used_blocks() const { return num_used_; }
  // num_used_blocks / num_blocks: drivelm_kv_cache_usage_ratio.
  double UsageRatio() const {
    return static_cast<double>(num_used_) / static_cast<double>(config_.num_blocks);
  }
  const KvCacheStats& stats() const { return stats_; }

  // Ref count of a block (0 for an id out of range).
  int32_t RefCount(BlockId block) const;
  // The block's registered prefix-cache hash, if any.
  std::optional<uint64_t> RegisteredHash(BlockId block) const;

  // Checks every internal invariant (block states partition the pool, ref counts equal block
  // table occurrences, hash map consistency, sequence sizes); Internal naming the first
  // violation. O(num_blocks + total table length): for tests and debug builds.
  absl::Status CheckInvariants() const;
  // The whole state, deterministic (sequences sorted by id; free and LRU lists in order).
  std::string DebugString() const;

 private:
  static constexpr BlockId kNone = -1;

  struct Block {
    int32_t ref_count = 0;
    bool has_hash = false;  // registered in cached_
    bool in_lru = false;
    uint64_t hash = 0;
    BlockId lru_prev = kNone;
    BlockId lru_next = kNone;
  };

  struct Sequence {
    std::vector<BlockId> blocks;   // ceil(num_tokens / block_size) entries
    std::vector<uint64_t> hashes;  // hashes of blocks [0, hashes.size()), <= num_tokens / bs
    int64_t num_tokens = 0;
    int64_t num_computed = 0;
    size_t num_registered = 0;  // blocks [0, num_registered) were offered to the prefix cache
  };

  // What Allocate would do, decided without mutation.
  struct AllocationPlan {
    std::vector<BlockId> hits;     // cached blocks to reuse, in position order
    int64_t num_hits_evictable = 0;  // of `hits`, those now on the LRU list (ref count 0)
    int64_t num_fresh = 0;         // blocks to take from the pool
  };

  explicit KvCacheManager(const KvCacheConfig& config);

  absl::Status ValidateAllocate(int64_t num_tokens, absl::Span<const uint64_t> block_hashes) const;
  AllocationPlan PlanAllocate(int64_t num_tokens, absl::Span<const uint64_t> block_hashes) const;
  // Fresh blocks Append(seq, n) needs (copy-on-write included).
  int64_t BlocksNeededToAppend(const Sequence& s, int64_t n) const;
  bool LastBlockShared(const Sequence& s) const;

  BlockId TakeFreshBlock();         // ref count 1; pool must be non-empty
  void Reference(BlockId block);    // ref count +1 (revives an evictable block)
  void Release(BlockId block);      // ref count -1
  void Unregister(BlockId block);   // drops the block's hash entry
  void RegisterComputedBlocks(Sequence& s);
  void LruPushBack(BlockId block);
  void LruRemove(BlockId block);

  const Sequence* FindSequence(SeqId seq) const;

  KvCacheConfig config_;
  std::vector<Block> blocks_;         // [num_blocks]
  std::vector<BlockId> free_list_;    // stack; back is taken first
  BlockId lru_head_ = kNone;          // least recently freed evictable block
  BlockId lru_tail_ = kNone;
  int64_t num_evictable_ = 0;
  int64_t num_used_ = 0;
  absl::flat_hash_map<uint64_t, BlockId> cached_;  // registered hash -> block
  absl::node_hash_map<SeqId, Sequence> seqs_;
  KvCacheStats stats_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_CACHE_KV_CACHE_MANAGER_H_
