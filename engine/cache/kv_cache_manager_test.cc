#include "engine/cache/kv_cache_manager.h"

#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using BlockId = KvCacheManager::BlockId;

constexpr int32_t kBs = 4;

KvCacheManager Make(int32_t num_blocks, bool prefix = true, int32_t block_size = kBs) {
  absl::StatusOr<KvCacheManager> m =
      KvCacheManager::Create({.block_size = block_size, .num_blocks = num_blocks,
                              .enable_prefix_caching = prefix});
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

std::vector<int32_t> Iota(int n, int32_t start = 100) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

std::vector<uint64_t> Hashes(const std::vector<int32_t>& tokens,
                             std::vector<ExtraKeyRange> extra = {}) {
  return KvCacheManager::PromptBlockHashes(tokens, kBs, extra);
}

// Allocates a prompt and marks it all computed; returns the cached tokens.
int64_t Prefill(KvCacheManager& m, int64_t seq, const std::vector<int32_t>& tokens,
                std::vector<ExtraKeyRange> extra = {}) {
  absl::StatusOr<int64_t> cached = m.Allocate(seq, tokens.size(), Hashes(tokens, extra));
  EXPECT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(m.MarkComputed(seq, tokens.size()).ok());
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
  return cached.value_or(-1);
}

// ---- Static helpers ------------------------------------------------------------------------

TEST(KvCacheManagerTest, NumBlocksForBudget) {
  // PaliGemma-3B: 18 layers, 1 KV head of 256, bf16; 16-token blocks = 294912 bytes.
  absl::StatusOr<int32_t> n = KvCacheManager::NumBlocksForBudget(int64_t{1} << 30, 16, 18, 1,
                                                                 256, 2);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, (int64_t{1} << 30) / 294912);
  EXPECT_EQ(*KvCacheManager::NumBlocksForBudget(294912, 16, 18, 1, 256, 2), 1);
  // Capped at INT32_MAX.
  EXPECT_EQ(*KvCacheManager::NumBlocksForBudget(std::numeric_limits<int64_t>::max(), 1, 1, 1, 1,
                                                1),
            std::numeric_limits<int32_t>::max());
  // No overflow on huge shapes: the block is larger than any budget.
  absl::StatusOr<int32_t> huge = KvCacheManager::NumBlocksForBudget(
      int64_t{1} << 40, int64_t{1} << 20, int64_t{1} << 20, int64_t{1} << 20, 1 << 20, 8);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KvCacheManagerTest, NumBlocksForBudgetBadInput) {
  absl::StatusOr<int32_t> small = KvCacheManager::NumBlocksForBudget(294911, 16, 18, 1, 256, 2);
  EXPECT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(small.status().message(), HasSubstr("smaller than one block of 294912 bytes"));
  for (int bad = 0; bad < 6; ++bad) {
    int64_t a[6] = {1 << 30, 16, 18, 1, 256, 2};
    a[bad] = bad % 2 == 0 ? 0 : -3;
    absl::StatusOr<int32_t> r = KvCacheManager::NumBlocksForBudget(a[0], a[1], a[2], a[3], a[4],
                                                                   a[5]);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("must be positive"));
  }
}

TEST(KvCacheManagerTest, ChainHashIsStableAndSensitive) {
  const std::vector<int32_t> t = {1, 2, 3, 4};
  const uint64_t h = KvCacheManager::ChainHash(7, t, {});
  EXPECT_EQ(h, KvCacheManager::ChainHash(7, t, {}));
  EXPECT_NE(h, KvCacheManager::ChainHash(8, t, {}));
  EXPECT_NE(h, KvCacheManager::ChainHash(7, {1, 2, 3, 5}, {}));
  EXPECT_NE(h, KvCacheManager::ChainHash(7, {1, 2, 3}, {}));
  EXPECT_NE(h, KvCacheManager::ChainHash(7, t, {0}));
  const uint64_t img_a = KvCacheManager::ChainHash(7, t, {0xA});
  EXPECT_NE(img_a, KvCacheManager::ChainHash(7, t, {0xB}));
  // Lengths are serialized: moving a value from tokens to extra keys changes the hash.
  EXPECT_NE(KvCacheManager::ChainHash(7, {1, 2}, {3}), KvCacheManager::ChainHash(7, {1}, {2, 3}));
  // Negative token ids are fine.
  EXPECT_NE(KvCacheManager::ChainHash(7, {-1}, {}), KvCacheManager::ChainHash(7, {1}, {}));
}

TEST(KvCacheManagerTest, ChainHashGoldenValues) {
  // Computed by an independent Python XXH64 over the documented little-endian serialization
  // (parent u64, token count u64, tokens u32, key count u64, keys u64). The values must not
  // change between builds or machines.
  EXPECT_EQ(KvCacheManager::ChainHash(KvCacheManager::kRootBlockHash, {5}, {}),
            0x3f0ffbe34b448067ULL);
  EXPECT_EQ(KvCacheManager::ChainHash(KvCacheManager::kRootBlockHash, {100, 101, 102, 103}, {}),
            0xfc411574a48d0f16ULL);
  EXPECT_EQ(KvCacheManager::ChainHash(0xfc411574a48d0f16ULL, {104, 105, 106, 107}, {}),
            0xc82aa2e87b2381eeULL);
  EXPECT_EQ(KvCacheManager::ChainHash(KvCacheManager::kRootBlockHash, {1, 2, 9, 9},
                                      {0xAAAA, uint64_t{2} << 32 | 4}),
            0xd461a0ed9b50c174ULL);
  EXPECT_EQ(KvCacheManager::ChainHash(7, {-1, 2147483647}, {0xffffffffffffffffULL}),
            0xe8574c186c6358daULL);
}

TEST(KvCacheManagerTest, PromptBlockHashesChain) {
  const std::vector<int32_t> tokens = Iota(11);  // 2 full blocks + 3
  const std::vector<uint64_t> h = Hashes(tokens);
  ASSERT_EQ(h.size(), 2u);
  const uint64_t h0 =
      KvCacheManager::ChainHash(KvCacheManager::kRootBlockHash, {100, 101, 102, 103}, {});
  EXPECT_EQ(h[0], h0);
  EXPECT_EQ(h[1], KvCacheManager::ChainHash(h0, {104, 105, 106, 107}, {}));
  EXPECT_TRUE(KvCacheManager::PromptBlockHashes(tokens, 0, {}).empty());
  EXPECT_TRUE(KvCacheManager::PromptBlockHashes(Iota(3), kBs, {}).empty());
  // Another root: another chain.
  EXPECT_NE(KvCacheManager::PromptBlockHashes(tokens, kBs, {}, 1)[0], h[0]);
}

TEST(KvCacheManagerTest, PromptBlockHashesImageKeys) {
  // Image tokens (id 9) at positions [2, 8) then text: blocks 0 and 1 overlap the image.
  std::vector<int32_t> tokens = {1, 2, 9, 9, 9, 9, 9, 9, 3, 4, 5, 6};
  const std::vector<uint64_t> a = Hashes(tokens, {{2, 8, 0xAAAA}});
  const std::vector<uint64_t> b = Hashes(tokens, {{2, 8, 0xBBBB}});
  const std::vector<uint64_t> none = Hashes(tokens);
  ASSERT_EQ(a.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(a[i], b[i]) << i;  // the chain carries the image difference to the end
    EXPECT_NE(a[i], none[i]) << i;
  }
  // Block 0 holds image positions [2, 4): key plus (2 << 32 | 4).
  EXPECT_EQ(a[0], KvCacheManager::ChainHash(KvCacheManager::kRootBlockHash, {1, 2, 9, 9},
                                            {0xAAAA, uint64_t{2} << 32 | 4}));
  EXPECT_EQ(a[1], KvCacheManager::ChainHash(a[0], {9, 9, 9, 9}, {0xAAAA, 4}));
  EXPECT_EQ(a[2], KvCacheManager::ChainHash(a[1], {3, 4, 5, 6}, {}));
  // Two images in one block keep their order.
  EXPECT_NE(Hashes(tokens, {{2, 3, 1}, {3, 8, 2}}), Hashes(tokens, {{2, 3, 2}, {3, 8, 1}}));
  // A block before the image is unaffected.
  std::vector<int32_t> late = {1, 2, 3, 4, 9, 9, 9, 9};
  EXPECT_EQ(Hashes(late, {{4, 8, 0xAAAA}})[0], Hashes(late, {{4, 8, 0xBBBB}})[0]);
  EXPECT_NE(Hashes(late, {{4, 8, 0xAAAA}})[1], Hashes(late, {{4, 8, 0xBBBB}})[1]);
}

// ---- Create / Allocate ---------------------------------------------------------------------

TEST(KvCacheManagerTest, CreateRejectsBadConfig) {
  absl::StatusOr<KvCacheManager> m = KvCacheManager::Create({.block_size = 0, .num_blocks = 4});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("block_size must be >= 1, got 0"));
  m = KvCacheManager::Create({.block_size = 16, .num_blocks = 0});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("num_blocks must be >= 1, got 0"));
}

TEST(KvCacheManagerTest, AllocateFreshBlocks) {
  KvCacheManager m = Make(8);
  EXPECT_EQ(m.num_free_blocks(), 8);
  EXPECT_TRUE(m.CanAllocate(9, {}));
  absl::StatusOr<int64_t> cached = m.Allocate(1, 9, {});
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(*cached, 0);
  EXPECT_THAT(m.BlockTable(1), ElementsAre(0, 1, 2));
  EXPECT_EQ(m.NumTokens(1), 9);
  EXPECT_EQ(m.NumComputedTokens(1), 0);
  EXPECT_EQ(m.num_free_blocks(), 5);
  EXPECT_EQ(m.num_used_blocks(), 3);
  EXPECT_DOUBLE_EQ(m.UsageRatio(), 3.0 / 8.0);
  EXPECT_EQ(m.RefCount(0), 1);
  EXPECT_EQ(m.stats().prefix_cache_queries, 9);
  EXPECT_EQ(m.stats().prefix_cache_hits, 0);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, AllocateBadInputChangesNothing) {
  KvCacheManager m = Make(4);
  ASSERT_TRUE(m.Allocate(1, 5, {}).ok());
  const std::string before = m.DebugString();

  absl::StatusOr<int64_t> r = m.Allocate(1, 1, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(r.status().message(), HasSubstr("sequence 1 already has blocks"));
  r = m.Allocate(2, 0, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("num_tokens must be >= 1, got 0"));
  EXPECT_FALSE(m.CanAllocate(0, {}));
  EXPECT_EQ(m.BlocksNeededToAllocate(-5, {}), -1);
  const std::vector<uint64_t> three = {1, 2, 3};
  r = m.Allocate(2, 11, three);  // 11 tokens fill 2 blocks
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("3 block hashes for 11 tokens"));
  EXPECT_FALSE(m.CanAllocate(11, three));
  // 2 blocks left: 9 tokens need 3.
  EXPECT_FALSE(m.CanAllocate(9, {}));
  r = m.Allocate(2, 9, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("needs 3 blocks for 9 tokens (0 cached), 2 of 4"));
  EXPECT_EQ(m.DebugString(), before);
  EXPECT_TRUE(m.CanAllocate(8, {}));
  EXPECT_TRUE(m.Allocate(2, 8, {}).ok());
  EXPECT_EQ(m.num_free_blocks(), 0);
}

// ---- Prefix cache --------------------------------------------------------------------------

TEST(KvCacheManagerTest, IdenticalPrefixesShareBlocks) {
  KvCacheManager m = Make(16);
  std::vector<int32_t> a = Iota(14);  // 3 full blocks + 2
  EXPECT_EQ(Prefill(m, 1, a), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(m.RegisteredHash(m.BlockTable(1)[i]).has_value());
  EXPECT_FALSE(m.RegisteredHash(m.BlockTable(1)[3]).has_value());  // partial

  // Same first 12 tokens, different tail.
  std::vector<int32_t> b = a;
  b[12] = 1;
  b.push_back(2);
  EXPECT_EQ(m.BlocksNeededToAllocate(b.size(), Hashes(b)), 1);
  EXPECT_EQ(Prefill(m, 2, b), 12);
  const std::vector<BlockId>& t1 = m.BlockTable(1);
  const std::vector<BlockId>& t2 = m.BlockTable(2);
  EXPECT_EQ(t2[0], t1[0]);
  EXPECT_EQ(t2[1], t1[1]);
  EXPECT_EQ(t2[2], t1[2]);
  EXPECT_NE(t2[3], t1[3]);
  EXPECT_EQ(m.RefCount(t1[0]), 2);
  EXPECT_EQ(m.RefCount(t1[3]), 1);
  EXPECT_EQ(m.num_used_blocks(), 5);
  EXPECT_EQ(m.stats().prefix_cache_queries, 14 + 15);
  EXPECT_EQ(m.stats().prefix_cache_hits, 12);

  // A prefix diverging in block 1 shares block 0 only.
  std::vector<int32_t> c = a;
  c[5] = -7;
  EXPECT_EQ(Prefill(m, 3, c), 4);
}

TEST(KvCacheManagerTest, LastTokenIsAlwaysComputed) {
  KvCacheManager m = Make(16);
  const std::vector<int32_t> a = Iota(8);  // exactly 2 blocks
  Prefill(m, 1, a);
  // The identical prompt reuses only block 0: the last block holds the token whose logits are
  // needed.
  EXPECT_EQ(Prefill(m, 2, a), 4);
  EXPECT_EQ(m.BlockTable(2)[0], m.BlockTable(1)[0]);
  EXPECT_NE(m.BlockTable(2)[1], m.BlockTable(1)[1]);
  // One more token: both blocks reused.
  std::vector<int32_t> longer = Iota(9);
  EXPECT_EQ(Prefill(m, 3, longer), 8);
}

TEST(KvCacheManagerTest, BlocksShareOnlyOnceComputed) {
  KvCacheManager m = Make(16);
  const std::vector<int32_t> a = Iota(13);
  ASSERT_TRUE(m.Allocate(1, a.size(), Hashes(a)).ok());
  // Not computed yet: a second identical prompt cannot reuse anything.
  EXPECT_EQ(*m.Allocate(2, a.size(), Hashes(a)), 0);
  // Chunked prefill: 6 tokens computed registers block 0 only.
  ASSERT_TRUE(m.MarkComputed(1, 6).ok());
  EXPECT_TRUE(m.RegisteredHash(m.BlockTable(1)[0]).has_value());
  EXPECT_FALSE(m.RegisteredHash(m.BlockTable(1)[1]).has_value());
  EXPECT_EQ(*m.Allocate(3, a.size(), Hashes(a)), 4);
  // Sequence 2 computes the same content later: the first registered copy stays the cached one.
  ASSERT_TRUE(m.MarkComputed(2, 13).ok());
  ASSERT_TRUE(m.MarkComputed(1, 13).ok());
  EXPECT_FALSE(m.RegisteredHash(m.BlockTable(2)[0]).has_value());
  EXPECT_TRUE(m.RegisteredHash(m.BlockTable(2)[1]).has_value());  // 2 finished block 1 first
  EXPECT_FALSE(m.RegisteredHash(m.BlockTable(1)[1]).has_value());
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
  // Sequence 2's unregistered duplicate of block 0 goes back to the free list.
  const BlockId dup = m.BlockTable(2)[0];
  m.Free(2);
  EXPECT_EQ(m.RefCount(dup), 0);
  EXPECT_FALSE(m.RegisteredHash(dup).has_value());
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, SameTextDifferentImagesDoNotShare) {
  KvCacheManager m = Make(32);
  // 8 image tokens then a question.
  std::vector<int32_t> tokens(8, 9);
  for (int32_t t : Iota(6)) tokens.push_back(t);
  EXPECT_EQ(Prefill(m, 1, tokens, {{0, 8, 0xCAFE}}), 0);
  EXPECT_EQ(Prefill(m, 2, tokens, {{0, 8, 0xBEEF}}), 0);  // other image, same tokens
  EXPECT_EQ(Prefill(m, 3, tokens, {{0, 8, 0xCAFE}}), 12);  // same image
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(m.BlockTable(2)[i], m.BlockTable(1)[i]);
    EXPECT_EQ(m.BlockTable(3)[i], m.BlockTable(1)[i]);
  }
  EXPECT_EQ(m.stats().prefix_cache_hits, 12);
}

TEST(KvCacheManagerTest, FreedBlocksStayCachedUntilEvicted) {
  KvCacheManager m = Make(6);
  const std::vector<int32_t> a = Iota(13);  // 4 blocks, 3 full
  Prefill(m, 1, a);
  const std::vector<BlockId> table = m.BlockTable(1);
  m.Free(1);
  EXPECT_FALSE(m.HasSequence(1));
  EXPECT_EQ(m.num_used_blocks(), 0);
  EXPECT_DOUBLE_EQ(m.UsageRatio(), 0.0);
  EXPECT_EQ(m.num_evictable_blocks(), 3);  // the partial block went to the free list
  EXPECT_EQ(m.num_free_blocks(), 6);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();

  // The same prompt after finish: hits the evictable blocks (revived, not free any more).
  EXPECT_EQ(m.BlocksNeededToAllocate(a.size(), Hashes(a)), 4);  // 3 revived + 1 fresh
  EXPECT_EQ(Prefill(m, 2, a), 12);
  EXPECT_EQ(m.BlockTable(2)[0], table[0]);
  EXPECT_EQ(m.num_evictable_blocks(), 0);
  m.Free(2);

  // Memory pressure: 6 blocks of other content evict all cached ones.
  const std::vector<int32_t> other = Iota(24, 5000);
  ASSERT_TRUE(m.CanAllocate(other.size(), Hashes(other)));
  ASSERT_TRUE(m.Allocate(3, other.size(), Hashes(other)).ok());
  EXPECT_EQ(m.stats().evictions, 3);
  EXPECT_EQ(m.num_evictable_blocks(), 0);
  for (BlockId b = 0; b < 6; ++b) EXPECT_FALSE(m.RegisteredHash(b).has_value());
  m.Free(3);  // never computed: nothing registered, all free
  EXPECT_EQ(m.num_evictable_blocks(), 0);
  // The prefix misses now.
  EXPECT_EQ(Prefill(m, 4, a), 0);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, EvictionTakesLeastRecentlyUsedTailFirst) {
  KvCacheManager m = Make(8);
  const std::vector<int32_t> a = Iota(13);       // blocks 0,1,2 full + 3 partial
  const std::vector<int32_t> b = Iota(9, 7000);  // blocks 4,5 full + 6 partial
  Prefill(m, 1, a);
  Prefill(m, 2, b);
  m.Free(1);  // LRU: 2, 1, 0 (tail first)
  m.Free(2);  // then 5, 4
  // Free list first (a stack: 6, 3, then the never-used 7), then evictions in LRU order: 2, 1.
  ASSERT_TRUE(m.Allocate(3, 20, {}).ok());
  EXPECT_THAT(m.BlockTable(3), ElementsAre(6, 3, 7, 2, 1));
  EXPECT_EQ(m.stats().evictions, 2);
  // Block 0 of `a` survives: the first block of `a` still hits.
  m.Free(3);
  EXPECT_EQ(Prefill(m, 4, a), 4);
  // `b`'s two full blocks were not evicted.
  EXPECT_EQ(Prefill(m, 5, b), 8);
}

TEST(KvCacheManagerTest, PrefixCachingDisabled) {
  KvCacheManager m = Make(16, /*prefix=*/false);
  const std::vector<int32_t> a = Iota(13);
  EXPECT_EQ(Prefill(m, 1, a), 0);
  EXPECT_EQ(Prefill(m, 2, a), 0);
  for (BlockId b = 0; b < 16; ++b) EXPECT_FALSE(m.RegisteredHash(b).has_value());
  EXPECT_EQ(m.stats().prefix_cache_queries, 0);
  EXPECT_EQ(m.stats().prefix_cache_hits, 0);
  m.Free(1);
  m.Free(2);
  EXPECT_EQ(m.num_evictable_blocks(), 0);
  EXPECT_EQ(m.num_free_blocks(), 16);
}

TEST(KvCacheManagerTest, RepeatedHashesNeverPutABlockTwiceInATable) {
  KvCacheManager m = Make(16);
  const std::vector<int32_t> a = Iota(9);
  const std::vector<uint64_t> same = {42, 42};
  ASSERT_TRUE(m.Allocate(1, 9, same).ok());
  ASSERT_TRUE(m.MarkComputed(1, 9).ok());
  EXPECT_EQ(*m.Allocate(2, 9, same), 4);  // the second 42 would be the same block: stop
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

// ---- Append / MarkComputed / AddBlockHashes ------------------------------------------------

TEST(KvCacheManagerTest, AppendGrowsAtBlockBoundaries) {
  KvCacheManager m = Make(4);
  ASSERT_TRUE(m.Allocate(1, 3, {}).ok());
  absl::StatusOr<std::optional<BlockCopy>> r = m.Append(1, 1);  // fills block 0
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(m.BlockTable(1).size(), 1u);
  ASSERT_TRUE(m.Append(1, 1).ok());  // opens block 1
  EXPECT_EQ(m.BlockTable(1).size(), 2u);
  EXPECT_EQ(m.NumTokens(1), 5);
  ASSERT_TRUE(m.Append(1, 0).ok());
  EXPECT_EQ(m.NumTokens(1), 5);
  ASSERT_TRUE(m.Append(1, 7).ok());  // 12 tokens: speculative-style multi-token growth
  EXPECT_EQ(m.BlockTable(1).size(), 3u);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, AppendBadInputChangesNothing) {
  KvCacheManager m = Make(3);
  ASSERT_TRUE(m.Allocate(1, 6, {}).ok());
  const std::string before = m.DebugString();
  EXPECT_EQ(m.Append(9, 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(m.CanAppend(9, 1));
  absl::StatusOr<std::optional<BlockCopy>> r = m.Append(1, -1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("n must be >= 0, got -1"));
  EXPECT_FALSE(m.CanAppend(1, -1));
  // 6 tokens in 2 blocks; 1 block left: +6 tokens fits (12), +7 does not.
  EXPECT_TRUE(m.CanAppend(1, 6));
  EXPECT_FALSE(m.CanAppend(1, 7));
  r = m.Append(1, 7);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("needs 2 blocks for 7 more tokens, 1 of 3"));
  EXPECT_EQ(m.DebugString(), before);
}

TEST(KvCacheManagerTest, MarkComputedBadInput) {
  KvCacheManager m = Make(4);
  ASSERT_TRUE(m.Allocate(1, 6, {}).ok());
  EXPECT_EQ(m.MarkComputed(2, 1).code(), absl::StatusCode::kNotFound);
  absl::Status st = m.MarkComputed(1, 7);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("must be in [0, 6], got 7"));
  ASSERT_TRUE(m.MarkComputed(1, 4).ok());
  st = m.MarkComputed(1, 3);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("must be in [4, 6], got 3"));
  EXPECT_EQ(m.NumComputedTokens(1), 4);
}

TEST(KvCacheManagerTest, GeneratedBlocksAreSharedThroughAddBlockHashes) {
  KvCacheManager m = Make(16);
  std::vector<int32_t> tokens = Iota(6);
  Prefill(m, 1, tokens);
  // Decode 3 tokens, one per step: the 8th token fills block 1.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(m.Append(1, 1).ok());
    tokens.push_back(200 + i);
    ASSERT_TRUE(m.MarkComputed(1, tokens.size()).ok());
  }
  absl::Status st = m.AddBlockHashes(1, {1, 2});  // 9 tokens fill 2 blocks, 1 hash known
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("would have 3 block hashes but 9 tokens fill only 2"));
  EXPECT_EQ(m.AddBlockHashes(5, {}).code(), absl::StatusCode::kNotFound);
  const std::vector<uint64_t> all = Hashes(tokens);
  ASSERT_EQ(all.size(), 2u);
  ASSERT_TRUE(m.AddBlockHashes(1, {all[1]}).ok());
  EXPECT_EQ(m.BlockHashes(1), all);
  EXPECT_EQ(m.RegisteredHash(m.BlockTable(1)[1]), all[1]);

  // Preempt (free) and recompute: prompt + generated tokens hit the sequence's own blocks.
  m.Free(1);
  EXPECT_EQ(Prefill(m, 1, tokens), 8);
  EXPECT_EQ(m.stats().prefix_cache_hits, 8);
}

TEST(KvCacheManagerTest, HashesAddedAfterComputeRegisterThen) {
  KvCacheManager m = Make(8);
  ASSERT_TRUE(m.Allocate(1, 9, {}).ok());
  ASSERT_TRUE(m.MarkComputed(1, 9).ok());
  EXPECT_FALSE(m.RegisteredHash(m.BlockTable(1)[0]).has_value());
  ASSERT_TRUE(m.AddBlockHashes(1, {11, 22}).ok());
  EXPECT_EQ(m.RegisteredHash(m.BlockTable(1)[0]), 11u);
  EXPECT_EQ(m.RegisteredHash(m.BlockTable(1)[1]), 22u);
}

// ---- Fork / copy-on-write ------------------------------------------------------------------

TEST(KvCacheManagerTest, ForkSharesAndCopiesOnWrite) {
  KvCacheManager m = Make(8);
  Prefill(m, 1, Iota(6));  // block 0 full, block 1 holds 2 tokens
  ASSERT_TRUE(m.Fork(1, 2).ok());
  EXPECT_EQ(m.BlockTable(2), m.BlockTable(1));
  EXPECT_EQ(m.NumTokens(2), 6);
  EXPECT_EQ(m.NumComputedTokens(2), 6);
  EXPECT_EQ(m.RefCount(0), 2);
  EXPECT_EQ(m.RefCount(1), 2);
  EXPECT_EQ(m.num_used_blocks(), 2);

  // The child writes into the shared partial block: it gets a copy of its 2 slots.
  EXPECT_TRUE(m.CanAppend(2, 1));
  absl::StatusOr<std::optional<BlockCopy>> r = m.Append(2, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->src, 1);
  EXPECT_EQ((*r)->dst, 2);
  EXPECT_EQ((*r)->num_tokens, 2);
  EXPECT_THAT(m.BlockTable(2), ElementsAre(0, 2));
  EXPECT_EQ(m.RefCount(1), 1);
  EXPECT_EQ(m.RefCount(0), 2);  // the full block stays shared
  // The parent is alone in block 1 now: in place, no copy.
  r = m.Append(1, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_THAT(m.BlockTable(1), ElementsAre(0, 1));
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();

  m.Free(1);
  m.Free(2);
  EXPECT_EQ(m.num_used_blocks(), 0);
  EXPECT_EQ(m.num_free_blocks(), 8);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, ForkAtBlockBoundaryNeedsNoCopy) {
  KvCacheManager m = Make(8);
  Prefill(m, 1, Iota(8));
  ASSERT_TRUE(m.Fork(1, 2).ok());
  absl::StatusOr<std::optional<BlockCopy>> r = m.Append(2, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_THAT(m.BlockTable(2), ElementsAre(0, 1, 2));
}

TEST(KvCacheManagerTest, CopyOnWriteNeedsABlock) {
  KvCacheManager m = Make(2);
  Prefill(m, 1, Iota(6));  // both blocks used
  ASSERT_TRUE(m.Fork(1, 2).ok());
  const std::string before = m.DebugString();
  EXPECT_FALSE(m.CanAppend(2, 1));  // 1 token fits in the slots, but the copy needs a block
  EXPECT_EQ(m.Append(2, 1).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(m.DebugString(), before);
}

TEST(KvCacheManagerTest, ForkBadInput) {
  KvCacheManager m = Make(8);
  ASSERT_TRUE(m.Allocate(1, 6, {}).ok());
  absl::Status st = m.Fork(1, 2);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("has 0 of 6 tokens computed"));
  ASSERT_TRUE(m.MarkComputed(1, 6).ok());
  EXPECT_EQ(m.Fork(7, 2).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(m.Allocate(3, 1, {}).ok());
  EXPECT_EQ(m.Fork(1, 3).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(m.Fork(1, 1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

// ---- Truncate / Free -----------------------------------------------------------------------

TEST(KvCacheManagerTest, TruncateReleasesTailBlocks) {
  KvCacheManager m = Make(8);
  Prefill(m, 1, Iota(6));
  ASSERT_TRUE(m.Append(1, 5).ok());  // 11 tokens, 3 blocks (draft tokens)
  ASSERT_TRUE(m.Truncate(1, 7).ok());  // 1 of 5 accepted... keep 7
  EXPECT_EQ(m.NumTokens(1), 7);
  EXPECT_EQ(m.NumComputedTokens(1), 6);
  EXPECT_EQ(m.BlockTable(1).size(), 2u);
  EXPECT_EQ(m.num_used_blocks(), 2);
  absl::Status st = m.Truncate(1, 8);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("must be in [0, 7], got 8"));
  EXPECT_EQ(m.Truncate(1, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Truncate(4, 0).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(m.Truncate(1, 0).ok());
  EXPECT_TRUE(m.BlockTable(1).empty());
  ASSERT_TRUE(m.Append(1, 2).ok());
  EXPECT_EQ(m.BlockTable(1).size(), 1u);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, TruncateIntoARegisteredBlockStopsAdvertisingIt) {
  KvCacheManager m = Make(8);
  const std::vector<int32_t> a = Iota(9);
  Prefill(m, 1, a);
  const BlockId b1 = m.BlockTable(1)[1];
  ASSERT_TRUE(m.RegisteredHash(b1).has_value());
  ASSERT_TRUE(m.Truncate(1, 6).ok());  // block 1 partial again
  EXPECT_TRUE(m.BlockHashes(1).size() == 1);
  ASSERT_TRUE(m.Append(1, 1).ok());  // rewrites slot 2 of block 1 in place
  EXPECT_EQ(m.BlockTable(1)[1], b1);
  EXPECT_FALSE(m.RegisteredHash(b1).has_value());
  // The old 9-token prompt no longer finds block 1.
  EXPECT_EQ(*m.Allocate(2, a.size(), Hashes(a)), 4);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, TruncateIntoASharedBlockCopiesOnWrite) {
  KvCacheManager m = Make(8);
  Prefill(m, 1, Iota(8));
  ASSERT_TRUE(m.Fork(1, 2).ok());
  ASSERT_TRUE(m.Truncate(2, 6).ok());
  absl::StatusOr<std::optional<BlockCopy>> r = m.Append(2, 1);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->src, 1);
  EXPECT_EQ((*r)->num_tokens, 2);
  EXPECT_TRUE(m.RegisteredHash(1).has_value());  // still valid for sequence 1
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, FreeUnknownIsNoOpAndQueriesAreSafe) {
  KvCacheManager m = Make(4);
  m.Free(123);
  EXPECT_TRUE(m.BlockTable(123).empty());
  EXPECT_TRUE(m.BlockHashes(123).empty());
  EXPECT_EQ(m.NumTokens(123), 0);
  EXPECT_EQ(m.NumComputedTokens(123), 0);
  EXPECT_EQ(m.RefCount(-1), 0);
  EXPECT_EQ(m.RefCount(4), 0);
  EXPECT_FALSE(m.RegisteredHash(99).has_value());
  ASSERT_TRUE(m.Allocate(1, 4, {}).ok());
  m.Free(1);
  m.Free(1);  // cancel after finish
  EXPECT_EQ(m.num_free_blocks(), 4);
  EXPECT_EQ(m.num_sequences(), 0);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvCacheManagerTest, ManagerIsMovable) {
  KvCacheManager m = Make(4);
  Prefill(m, 1, Iota(9));
  m.Free(1);
  KvCacheManager moved = std::move(m);
  EXPECT_TRUE(moved.CheckInvariants().ok()) << moved.CheckInvariants();
  EXPECT_EQ(moved.num_evictable_blocks(), 2);
  ASSERT_TRUE(moved.Allocate(2, 16, {}).ok());  // evicts through the LRU links
  EXPECT_EQ(moved.stats().evictions, 2);
}

}  // namespace
}  // namespace drivelm::engine
