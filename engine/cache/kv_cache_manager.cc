#include "engine/cache/kv_cache_manager.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/vision/content_hash.h"

namespace drivelm::engine {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

absl::StatusOr<int32_t> KvCacheManager::NumBlocksForBudget(int64_t budget_bytes,
                                                           int64_t block_size, int64_t num_layers,
                                                           int64_t kv_heads, int64_t head_dim,
                                                           int64_t dtype_bytes) {
  if (budget_bytes <= 0 || block_size <= 0 || num_layers <= 0 || kv_heads <= 0 || head_dim <= 0 ||
      dtype_bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache budget: every argument must be positive, got budget_bytes=", budget_bytes,
        " block_size=", block_size, " num_layers=", num_layers, " kv_heads=", kv_heads,
        " head_dim=", head_dim, " dtype_bytes=", dtype_bytes));
  }
  // 2 (K and V) * layers * block_size * kv_heads * head_dim * dtype_bytes, in 128 bits: the
  // arguments come from config files.
  const __int128 block_bytes = static_cast<__int128>(2) * num_layers * block_size * kv_heads *
                               head_dim * dtype_bytes;
  const __int128 n = static_cast<__int128>(budget_bytes) / block_bytes;
  if (n < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache budget of ", budget_bytes, " bytes is smaller than one block of ",
        static_cast<int64_t>(std::min<__int128>(block_bytes, std::numeric_limits<int64_t>::max())),
        " bytes (2 * ", num_layers, " layers * ", block_size, " tokens * ", kv_heads,
        " kv heads * ", head_dim, " head_dim * ", dtype_bytes, " bytes)"));
  }
  return static_cast<int32_t>(std::min<__int128>(n, std::numeric_limits<int32_t>::max()));
}

uint64_t KvCacheManager::ChainHash(uint64_t parent, absl::Span<const int32_t> tokens,
                                   absl::Span<const uint64_t> extra_keys) {
  // Explicit little-endian serialization with lengths: stable across machines, and no two
  // (tokens, extra_keys) splits give the same bytes.
  std::vector<uint8_t> bytes;
  bytes.reserve(8 + 8 + 4 * tokens.size() + 8 + 8 * extra_keys.size());
  PutU64(bytes, parent);
  PutU64(bytes, tokens.size());
  for (int32_t t : tokens) PutU32(bytes, static_cast<uint32_t>(t));
  PutU64(bytes, extra_keys.size());
  for (uint64_t k : extra_keys) PutU64(bytes, k);
  return Xxh64(bytes.data(), bytes.size(), /*seed=*/0);
}

std::vector<uint64_t> KvCacheManager::PromptBlockHashes(absl::Span<const int32_t> tokens,
                                                        int32_t block_size,
                                                        absl::Span<const ExtraKeyRange> extra_keys,
                                                        uint64_t root) {
  std::vector<uint64_t> hashes;
  if (block_size <= 0) return hashes;
  const int64_t num_full = static_cast<int64_t>(tokens.size()) / block_size;
  hashes.reserve(num_full);
  uint64_t parent = root;
  std::vector<uint64_t> keys;
  for (int64_t i = 0; i < num_full; ++i) {
    const int64_t begin = i * block_size;
    const int64_t end = begin + block_size;
    keys.clear();
    for (const ExtraKeyRange& r : extra_keys) {
      const int64_t lo = std::max(r.begin, begin);
      const int64_t hi = std::min(r.end, end);
      if (lo >= hi) continue;
      keys.push_back(r.key);
      keys.push_back(static_cast<uint64_t>(lo - begin) << 32 | static_cast<uint64_t>(hi - begin));
    }
    parent = ChainHash(parent, tokens.subspan(begin, block_size), keys);
    hashes.push_back(parent);
  }
  return hashes;
}

absl::StatusOr<KvCacheManager> KvCacheManager::Create(const KvCacheConfig& config) {
  if (config.block_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("KvCacheConfig.block_size must be >= 1, got ", config.block_size));
  }
  if (config.num_blocks < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("KvCacheConfig.num_blocks must be >= 1, got ", config.num_blocks));
  }
  return KvCacheManager(config);
}

KvCacheManager::KvCacheManager(const KvCacheConfig& config)
    : config_(config), blocks_(config.num_blocks) {
  // Reverse order, so that the first fresh blocks are 0, 1, 2, ...
  free_list_.reserve(config.num_blocks);
  for (BlockId b = config.num_blocks - 1; b >= 0; --b) free_list_.push_back(b);
}

// ---- Planning (const) ----------------------------------------------------------------------

absl::Status KvCacheManager::ValidateAllocate(int64_t num_tokens,
                                              absl::Span<const uint64_t> block_hashes) const {
  if (num_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache Allocate: num_tokens must be >= 1, got ", num_tokens));
  }
  const int64_t num_full = num_tokens / config_.block_size;
  if (static_cast<int64_t>(block_hashes.size()) > num_full) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache Allocate: ", block_hashes.size(), " block hashes for ", num_tokens,
        " tokens, which fill only ", num_full, " blocks of ", config_.block_size));
  }
  return absl::OkStatus();
}

KvCacheManager::AllocationPlan KvCacheManager::PlanAllocate(
    int64_t num_tokens, absl::Span<const uint64_t> block_hashes) const {
  AllocationPlan plan;
  const int64_t total = CeilDiv(num_tokens, config_.block_size);
  if (config_.enable_prefix_caching) {
    // The last token is always computed: its logits start generation.
    const int64_t max_hits = std::min<int64_t>(static_cast<int64_t>(block_hashes.size()),
                                               (num_tokens - 1) / config_.block_size);
    for (int64_t i = 0; i < max_hits; ++i) {
      auto it = cached_.find(block_hashes[i]);
      if (it == cached_.end()) break;
      // A repeated hash (not a real chain) would put one block twice in the table.
      if (std::find(plan.hits.begin(), plan.hits.end(), it->second) != plan.hits.end()) break;
      plan.hits.push_back(it->second);
      if (blocks_[it->second].ref_count == 0) ++plan.num_hits_evictable;
    }
  }
  plan.num_fresh = total - static_cast<int64_t>(plan.hits.size());
  return plan;
}

int64_t KvCacheManager::BlocksNeededToAllocate(int64_t num_tokens,
                                               absl::Span<const uint64_t> block_hashes) const {
  if (!ValidateAllocate(num_tokens, block_hashes).ok()) return -1;
  const AllocationPlan plan = PlanAllocate(num_tokens, block_hashes);
  return plan.num_fresh + plan.num_hits_evictable;
}

bool KvCacheManager::CanAllocate(int64_t num_tokens,
                                 absl::Span<const uint64_t> block_hashes) const {
  const int64_t needed = BlocksNeededToAllocate(num_tokens, block_hashes);
  return needed >= 0 && needed <= num_free_blocks();
}

bool KvCacheManager::LastBlockShared(const Sequence& s) const {
  return s.num_tokens % config_.block_size != 0 && blocks_[s.blocks.back()].ref_count > 1;
}

int64_t KvCacheManager::BlocksNeededToAppend(const Sequence& s, int64_t n) const {
  if (n == 0) return 0;
  const int64_t grow =
      CeilDiv(s.num_tokens + n, config_.block_size) - static_cast<int64_t>(s.blocks.size());
  return grow + (LastBlockShared(s) ? 1 : 0);
}

bool KvCacheManager::CanAppend(SeqId seq, int64_t n) const {
  const Sequence* s = FindSequence(seq);
  if (s == nullptr || n < 0) return false;
  return BlocksNeededToAppend(*s, n) <= num_free_blocks();
}

// ---- Mutations -----------------------------------------------------------------------------

absl::StatusOr<int64_t> KvCacheManager::Allocate(SeqId seq, int64_t num_tokens,
                                                 absl::Span<const uint64_t> block_hashes) {
  if (absl::Status st = ValidateAllocate(num_tokens, block_hashes); !st.ok()) return st;
  if (seqs_.contains(seq)) {
    return absl::AlreadyExistsError(
        absl::StrCat("KV cache Allocate: sequence ", seq, " already has blocks"));
  }
  AllocationPlan plan = PlanAllocate(num_tokens, block_hashes);
  const int64_t needed = plan.num_fresh + plan.num_hits_evictable;
  if (needed > num_free_blocks()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV cache Allocate: sequence ", seq, " needs ", needed, " blocks for ", num_tokens,
        " tokens (", plan.hits.size(), " cached), ", num_free_blocks(), " of ",
        config_.num_blocks, " available"));
  }
  // Mutate: revive the hits before taking fresh blocks, so eviction cannot take a hit.
  Sequence s;
  s.blocks.reserve(CeilDiv(num_tokens, config_.block_size));
  for (BlockId b : plan.hits) {
    Reference(b);
    s.blocks.push_back(b);
  }
  for (int64_t i = 0; i < plan.num_fresh; ++i) s.blocks.push_back(TakeFreshBlock());
  s.hashes.assign(block_hashes.begin(), block_hashes.end());
  s.num_tokens = num_tokens;
  const int64_t cached_tokens = static_cast<int64_t>(plan.hits.size()) * config_.block_size;
  s.num_computed = cached_tokens;
  s.num_registered = plan.hits.size();  // already registered
  if (config_.enable_prefix_caching) {
    stats_.prefix_cache_queries += num_tokens;
    stats_.prefix_cache_hits += cached_tokens;
  }
  seqs_.emplace(seq, std::move(s));
  return cached_tokens;
}

absl::StatusOr<std::optional<BlockCopy>> KvCacheManager::Append(SeqId seq, int64_t n) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) {
    return absl::NotFoundError(absl::StrCat("KV cache Append: unknown sequence ", seq));
  }
  if (n < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache Append: n must be >= 0, got ", n, " for sequence ", seq));
  }
  Sequence& s = it->second;
  const int64_t needed = BlocksNeededToAppend(s, n);
  if (needed > num_free_blocks()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV cache Append: sequence ", seq, " needs ", needed, " blocks for ", n,
        " more tokens, ", num_free_blocks(), " of ", config_.num_blocks, " available"));
  }
  std::optional<BlockCopy> copy;
  if (n == 0) return copy;
  const int64_t in_last = s.num_tokens % config_.block_size;
  if (in_last != 0) {
    const BlockId last = s.blocks.back();
    if (blocks_[last].ref_count > 1) {
      // Copy-on-write: the other holders keep `last`; this sequence continues in a copy.
      const BlockId dst = TakeFreshBlock();
      Release(last);
      s.blocks.back() = dst;
      copy = BlockCopy{last, dst, static_cast<int32_t>(in_last)};
    } else if (blocks_[last].has_hash) {
      // A registered full block that Truncate made partial again; nobody else holds it, so it
      // can be rewritten in place once it no longer advertises its old content.
      Unregister(last);
    }
  }
  const int64_t total = CeilDiv(s.num_tokens + n, config_.block_size);
  while (static_cast<int64_t>(s.blocks.size()) < total) s.blocks.push_back(TakeFreshBlock());
  s.num_tokens += n;
  return copy;
}

absl::Status KvCacheManager::MarkComputed(SeqId seq, int64_t num_computed) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) {
    return absl::NotFoundError(absl::StrCat("KV cache MarkComputed: unknown sequence ", seq));
  }
  Sequence& s = it->second;
  if (num_computed < s.num_computed || num_computed > s.num_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache MarkComputed: sequence ", seq, " num_computed must be in [", s.num_computed,
        ", ", s.num_tokens, "], got ", num_computed));
  }
  s.num_computed = num_computed;
  RegisterComputedBlocks(s);
  return absl::OkStatus();
}

absl::Status KvCacheManager::AddBlockHashes(SeqId seq, absl::Span<const uint64_t> block_hashes) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) {
    return absl::NotFoundError(absl::StrCat("KV cache AddBlockHashes: unknown sequence ", seq));
  }
  Sequence& s = it->second;
  const int64_t num_full = s.num_tokens / config_.block_size;
  const int64_t after = static_cast<int64_t>(s.hashes.size() + block_hashes.size());
  if (after > num_full) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache AddBlockHashes: sequence ", seq, " would have ", after, " block hashes but ",
        s.num_tokens, " tokens fill only ", num_full, " blocks of ", config_.block_size));
  }
  s.hashes.insert(s.hashes.end(), block_hashes.begin(), block_hashes.end());
  RegisterComputedBlocks(s);
  return absl::OkStatus();
}

absl::Status KvCacheManager::Fork(SeqId parent, SeqId child) {
  auto it = seqs_.find(parent);
  if (it == seqs_.end()) {
    return absl::NotFoundError(absl::StrCat("KV cache Fork: unknown parent sequence ", parent));
  }
  if (seqs_.contains(child)) {
    return absl::AlreadyExistsError(
        absl::StrCat("KV cache Fork: child sequence ", child, " already has blocks"));
  }
  const Sequence& p = it->second;
  if (p.num_computed != p.num_tokens) {
    return absl::FailedPreconditionError(absl::StrCat(
        "KV cache Fork: parent sequence ", parent, " has ", p.num_computed, " of ", p.num_tokens,
        " tokens computed; fork after its KV is written"));
  }
  Sequence c = p;
  for (BlockId b : c.blocks) Reference(b);
  seqs_.emplace(child, std::move(c));
  return absl::OkStatus();
}

absl::Status KvCacheManager::Truncate(SeqId seq, int64_t num_tokens) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) {
    return absl::NotFoundError(absl::StrCat("KV cache Truncate: unknown sequence ", seq));
  }
  Sequence& s = it->second;
  if (num_tokens < 0 || num_tokens > s.num_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("KV cache Truncate: sequence ", seq,
                                                   " num_tokens must be in [0, ", s.num_tokens,
                                                   "], got ", num_tokens));
  }
  const size_t keep = CeilDiv(num_tokens, config_.block_size);
  for (size_t i = s.blocks.size(); i > keep; --i) Release(s.blocks[i - 1]);
  s.blocks.resize(keep);
  const size_t full = num_tokens / config_.block_size;
  if (s.hashes.size() > full) s.hashes.resize(full);
  s.num_registered = std::min(s.num_registered, s.hashes.size());
  s.num_tokens = num_tokens;
  s.num_computed = std::min(s.num_computed, num_tokens);
  return absl::OkStatus();
}

void KvCacheManager::Free(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  // Tail first: a chain's later blocks are useless without the earlier ones, so they should be
  // evicted first.
  const std::vector<BlockId>& table = it->second.blocks;
  for (size_t i = table.size(); i > 0; --i) Release(table[i - 1]);
  seqs_.erase(it);
}

// ---- Block primitives ----------------------------------------------------------------------

KvCacheManager::BlockId KvCacheManager::TakeFreshBlock() {
  BlockId b;
  if (!free_list_.empty()) {
    b = free_list_.back();
    free_list_.pop_back();
  } else {
    b = lru_head_;  // callers checked num_free_blocks()
    LruRemove(b);
    Unregister(b);
    ++stats_.evictions;
  }
  blocks_[b].ref_count = 1;
  ++num_used_;
  return b;
}

void KvCacheManager::Reference(BlockId block) {
  Block& b = blocks_[block];
  if (b.ref_count == 0) {
    // Only registered blocks are referenced from ref count 0 (prefix hits): on the LRU list.
    LruRemove(block);
    ++num_used_;
  }
  ++b.ref_count;
}

void KvCacheManager::Release(BlockId block) {
  Block& b = blocks_[block];
  if (--b.ref_count > 0) return;
  --num_used_;
  if (b.has_hash) {
    LruPushBack(block);
  } else {
    free_list_.push_back(block);
  }
}

void KvCacheManager::Unregister(BlockId block) {
  Block& b = blocks_[block];
  if (!b.has_hash) return;
  cached_.erase(b.hash);
  b.has_hash = false;
  b.hash = 0;
}

void KvCacheManager::RegisterComputedBlocks(Sequence& s) {
  if (!config_.enable_prefix_caching) return;
  const size_t limit =
      std::min(s.hashes.size(), static_cast<size_t>(s.num_computed / config_.block_size));
  for (size_t i = s.num_registered; i < limit; ++i) {
    Block& b = blocks_[s.blocks[i]];
    if (b.has_hash) continue;  // a shared block registered by its first holder
    // If another block already holds this content (two sequences computed the same prefix before
    // either was registered), the first one stays the cached copy; this one is freed normally.
    if (cached_.try_emplace(s.hashes[i], s.blocks[i]).second) {
      b.has_hash = true;
      b.hash = s.hashes[i];
    }
  }
  s.num_registered = std::max(s.num_registered, limit);
}

void KvCacheManager::LruPushBack(BlockId block) {
  Block& b = blocks_[block];
  b.in_lru = true;
  b.lru_prev = lru_tail_;
  b.lru_next = kNone;
  if (lru_tail_ != kNone) {
    blocks_[lru_tail_].lru_next = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
  ++num_evictable_;
}

void KvCacheManager::LruRemove(BlockId block) {
  Block& b = blocks_[block];
  if (b.lru_prev != kNone) {
    blocks_[b.lru_prev].lru_next = b.lru_next;
  } else {
    lru_head_ = b.lru_next;
  }
  if (b.lru_next != kNone) {
    blocks_[b.lru_next].lru_prev = b.lru_prev;
  } else {
    lru_tail_ = b.lru_prev;
  }
  b.in_lru = false;
  b.lru_prev = b.lru_next = kNone;
  --num_evictable_;
}

// ---- Queries -------------------------------------------------------------------------------

const KvCacheManager::Sequence* KvCacheManager::FindSequence(SeqId seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? nullptr : &it->second;
}

bool KvCacheManager::HasSequence(SeqId seq) const { return seqs_.contains(seq); }

const std::vector<KvCacheManager::BlockId>& KvCacheManager::BlockTable(SeqId seq) const {
  static const std::vector<BlockId>* const kEmpty = new std::vector<BlockId>();
  const Sequence* s = FindSequence(seq);
  return s == nullptr ? *kEmpty : s->blocks;
}

const std::vector<uint64_t>& KvCacheManager::BlockHashes(SeqId seq) const {
  static const std::vector<uint64_t>* const kEmpty = new std::vector<uint64_t>();
  const Sequence* s = FindSequence(seq);
  return s == nullptr ? *kEmpty : s->hashes;
}

int64_t KvCacheManager::NumTokens(SeqId seq) const {
  const Sequence* s = FindSequence(seq);
  return s == nullptr ? 0 : s->num_tokens;
}

int64_t KvCacheManager::NumComputedTokens(SeqId seq) const {
  const Sequence* s = FindSequence(seq);
  return s == nullptr ? 0 : s->num_computed;
}

int32_t KvCacheManager::RefCount(BlockId block) const {
  if (block < 0 || block >= config_.num_blocks) return 0;
  return blocks_[block].ref_count;
}

std::optional<uint64_t> KvCacheManager::RegisteredHash(BlockId block) const {
  if (block < 0 || block >= config_.num_blocks || !blocks_[block].has_hash) return std::nullopt;
  return blocks_[block].hash;
}

absl::Status KvCacheManager::CheckInvariants() const {
  const int64_t n = config_.num_blocks;
  std::vector<int32_t> occurrences(n, 0);
  for (const auto& [id, s] : seqs_) {
    const int64_t expect_blocks = CeilDiv(s.num_tokens, config_.block_size);
    if (static_cast<int64_t>(s.blocks.size()) != expect_blocks) {
      return absl::InternalError(absl::StrCat("sequence ", id, " has ", s.blocks.size(),
                                              " blocks for ", s.num_tokens, " tokens"));
    }
    if (static_cast<int64_t>(s.hashes.size()) > s.num_tokens / config_.block_size) {
      return absl::InternalError(absl::StrCat("sequence ", id, " has ", s.hashes.size(),
                                              " hashes for ", s.num_tokens, " tokens"));
    }
    if (s.num_computed < 0 || s.num_computed > s.num_tokens) {
      return absl::InternalError(absl::StrCat("sequence ", id, " computed ", s.num_computed,
                                              " of ", s.num_tokens, " tokens"));
    }
    if (s.num_registered > s.hashes.size()) {
      return absl::InternalError(absl::StrCat("sequence ", id, " registration cursor ",
                                              s.num_registered, " past ", s.hashes.size()));
    }
    absl::flat_hash_set<BlockId> seen;
    for (size_t i = 0; i < s.blocks.size(); ++i) {
      const BlockId b = s.blocks[i];
      if (b < 0 || b >= n) {
        return absl::InternalError(absl::StrCat("sequence ", id, " holds block id ", b));
      }
      if (!seen.insert(b).second) {
        return absl::InternalError(absl::StrCat("sequence ", id, " holds block ", b, " twice"));
      }
      ++occurrences[b];
      if (i < s.hashes.size() && blocks_[b].has_hash && blocks_[b].hash != s.hashes[i]) {
        return absl::InternalError(absl::StrCat("sequence ", id, " block ", i, " (id ", b,
                                                ") is registered under another hash"));
      }
    }
  }
  std::vector<char> on_free(n, 0);
  for (BlockId b : free_list_) {
    if (b < 0 || b >= n || on_free[b]) {
      return absl::InternalError(absl::StrCat("free list holds block ", b, " twice or invalid"));
    }
    on_free[b] = 1;
  }
  std::vector<char> on_lru(n, 0);
  int64_t lru_count = 0;
  BlockId prev = kNone;
  for (BlockId b = lru_head_; b != kNone; b = blocks_[b].lru_next) {
    if (b < 0 || b >= n || on_lru[b] || lru_count > n) {
      return absl::InternalError(absl::StrCat("LRU list corrupt at block ", b));
    }
    if (blocks_[b].lru_prev != prev) {
      return absl::InternalError(absl::StrCat("LRU back link of block ", b));
    }
    on_lru[b] = 1;
    ++lru_count;
    prev = b;
  }
  if (prev != lru_tail_ || lru_count != num_evictable_) {
    return absl::InternalError(absl::StrCat("LRU tail/count: ", lru_count, " listed, ",
                                            num_evictable_, " counted"));
  }
  int64_t used = 0;
  for (BlockId b = 0; b < n; ++b) {
    const Block& blk = blocks_[b];
    if (blk.ref_count != occurrences[b]) {
      return absl::InternalError(absl::StrCat("block ", b, " ref count ", blk.ref_count, " but ",
                                              occurrences[b], " block-table occurrences"));
    }
    const int states = (on_free[b] ? 1 : 0) + (on_lru[b] ? 1 : 0) + (blk.ref_count > 0 ? 1 : 0);
    if (states != 1) {
      return absl::InternalError(absl::StrCat("block ", b, " is in ", states,
                                              " states (free ", int{on_free[b]}, ", evictable ",
                                              int{on_lru[b]}, ", refs ", blk.ref_count, ")"));
    }
    if (on_free[b] && blk.has_hash) {
      return absl::InternalError(absl::StrCat("free block ", b, " has a registered hash"));
    }
    if (on_lru[b] && !blk.has_hash) {
      return absl::InternalError(absl::StrCat("evictable block ", b, " has no hash"));
    }
    if (blk.in_lru != static_cast<bool>(on_lru[b])) {
      return absl::InternalError(absl::StrCat("block ", b, " in_lru flag is stale"));
    }
    if (blk.has_hash) {
      auto it = cached_.find(blk.hash);
      if (it == cached_.end() || it->second != b) {
        return absl::InternalError(absl::StrCat("block ", b, " hash not mapped to it"));
      }
    }
    if (blk.ref_count > 0) ++used;
  }
  for (const auto& [hash, b] : cached_) {
    if (b < 0 || b >= n || !blocks_[b].has_hash || blocks_[b].hash != hash) {
      return absl::InternalError(absl::StrCat("hash map entry points to block ", b,
                                              " which does not carry that hash"));
    }
  }
  if (used != num_used_) {
    return absl::InternalError(
        absl::StrCat("used block count ", num_used_, " but ", used, " blocks referenced"));
  }
  if (!config_.enable_prefix_caching && !cached_.empty()) {
    return absl::InternalError("prefix caching is off but hashes are registered");
  }
  return absl::OkStatus();
}

std::string KvCacheManager::DebugString() const {
  std::vector<SeqId> ids;
  ids.reserve(seqs_.size());
  for (const auto& [id, s] : seqs_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  std::string out = absl::StrCat("KvCacheManager{block_size=", config_.block_size,
                                 " num_blocks=", config_.num_blocks, " used=", num_used_,
                                 " evictable=", num_evictable_, "\n  free=[",
                                 absl::StrJoin(free_list_, ","), "]\n  lru=[");
  for (BlockId b = lru_head_; b != kNone; b = blocks_[b].lru_next) {
    absl::StrAppend(&out, b, b == lru_tail_ ? "" : ",");
  }
  absl::StrAppend(&out, "]\n  refs=[");
  for (BlockId b = 0; b < config_.num_blocks; ++b) {
    absl::StrAppend(&out, b == 0 ? "" : ",", blocks_[b].ref_count,
                    blocks_[b].has_hash ? absl::StrCat(":", blocks_[b].hash) : "");
  }
  absl::StrAppend(&out, "]\n");
  for (SeqId id : ids) {
    const Sequence& s = seqs_.at(id);
    absl::StrAppend(&out, "  seq ", id, ": tokens=", s.num_tokens, " computed=", s.num_computed,
                    " registered=", s.num_registered, " blocks=[", absl::StrJoin(s.blocks, ","),
                    "] hashes=[", absl::StrJoin(s.hashes, ","), "]\n");
  }
  absl::StrAppend(&out, "  stats: queries=", stats_.prefix_cache_queries,
                  " hits=", stats_.prefix_cache_hits, " evictions=", stats_.evictions, "}");
  return out;
}

}  // namespace drivelm::engine
