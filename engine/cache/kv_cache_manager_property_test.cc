// Randomized property test of KvCacheManager: thousands of random operation sequences (allocate
// with shared prefixes and images, chunked compute, append, fork, copy-on-write, truncate, add
// hashes, finish / cancel / preempt-and-resume) against a simulated runner that "writes KV" into
// a shadow pool of token slots. After every step it checks the manager's invariants and, above
// all, that every computed position of every live sequence reads back its own token from the
// slot its block table names: prefix hits, copy-on-write and eviction can never hand a sequence
// someone else's KV.
#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cache/kv_cache_manager.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using BlockId = KvCacheManager::BlockId;
using SeqId = KvCacheManager::SeqId;

constexpr int32_t kImageToken = 9;
constexpr int64_t kImageTokens = 6;

// What the runner wrote into one KV slot: a token and the image it belongs to (0 for text).
struct Slot {
  int32_t token = 0;
  uint64_t image = 0;
  bool operator==(const Slot& o) const { return token == o.token && image == o.image; }
  bool operator!=(const Slot& o) const { return !(*this == o); }
};

struct SimSeq {
  std::vector<int32_t> tokens;          // NumTokens(seq) entries
  std::vector<ExtraKeyRange> images;    // at most one range, at the start
  int64_t computed = 0;
  size_t hashes_given = 0;

  Slot SlotAt(int64_t p) const {
    uint64_t image = 0;
    for (const ExtraKeyRange& r : images) {
      if (p >= r.begin && p < r.end) image = r.key;
    }
    return {tokens[p], image};
  }
};

// What the random runs exercised, summed over trials: the test fails if a path was never taken.
struct Coverage {
  int64_t allocations = 0;
  int64_t refused_allocations = 0;
  int64_t refused_appends = 0;
  int64_t allocations_with_hits = 0;
  int64_t resumed_with_hits = 0;
  int64_t copy_on_writes = 0;
  int64_t forks = 0;
  int64_t refused_forks = 0;
  int64_t truncations = 0;
  int64_t evictions = 0;
};

class Simulation {
 public:
  Simulation(uint64_t seed, int32_t block_size, int32_t num_blocks, bool prefix,
             Coverage* coverage)
      : rng_(seed), bs_(block_size), prefix_(prefix), cov_(coverage),
        pool_(num_blocks, std::vector<std::optional<Slot>>(block_size)) {
    absl::StatusOr<KvCacheManager> m = KvCacheManager::Create(
        {.block_size = block_size, .num_blocks = num_blocks, .enable_prefix_caching = prefix});
    EXPECT_TRUE(m.ok()) << m.status();
    m_.emplace(*std::move(m));
    // Three prompt "families" so that sequences share text prefixes.
    for (auto& f : families_) {
      f.resize(12);
      for (int32_t& t : f) t = Uniform(10, 14);
    }
  }

  // Returns false (with a gtest failure recorded) when a check fails.
  bool Step() {
    const int op = Uniform(0, 99);
    if (op < 22) {
      NewSequence();
    } else if (op < 44) {
      Compute();
    } else if (op < 62) {
      AppendTokens();
    } else if (op < 68) {
      AddHashes();
    } else if (op < 75) {
      ForkSequence();
    } else if (op < 80) {
      TruncateSequence();
    } else if (op < 99) {
      FreeSequence(/*preempt=*/Uniform(0, 2) == 0);
    } else {
      FreeAll();
    }
    return Check();
  }

  void FreeAllAndCheckEmpty() {
    FreeAll();
    ASSERT_TRUE(Check());
    cov_->evictions += m().stats().evictions;
  }

  const std::string& last_op() const { return last_op_; }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  KvCacheManager& m() { return *m_; }

  SeqId PickLive() {
    auto it = live_.begin();
    std::advance(it, Uniform(0, static_cast<int>(live_.size()) - 1));
    return it->first;
  }

  std::vector<uint64_t> FullHashes(const SimSeq& s) {
    std::vector<uint64_t> h = KvCacheManager::PromptBlockHashes(s.tokens, bs_, s.images);
    // Remember what each hash stands for; a hash naming two contents would be a collision.
    for (size_t i = 0; i < h.size(); ++i) {
      std::vector<Slot> content;
      for (int64_t p = i * bs_; p < static_cast<int64_t>(i + 1) * bs_; ++p) {
        content.push_back(s.SlotAt(p));
      }
      auto [it, inserted] = hash_content_.try_emplace(h[i], content);
      EXPECT_TRUE(inserted || it->second == content) << "hash collision in the test";
    }
    return h;
  }

  // Writes a slot as the runner would: only into blocks this sequence owns alone and that do
  // not advertise cached content.
  void Write(SeqId id, const SimSeq& s, int64_t p) {
    const BlockId b = m().BlockTable(id)[p / bs_];
    EXPECT_EQ(m().RefCount(b), 1) << "write into shared block " << b << " by seq " << id;
    EXPECT_FALSE(m().RegisteredHash(b).has_value())
        << "write into registered block " << b << " by seq " << id;
    pool_[b][p % bs_] = s.SlotAt(p);
  }

  void NewSequence() {
    SimSeq s;
    bool resumed = false;
    if (!resume_.empty() && Uniform(0, 2) == 0) {
      resumed = true;
      // A preempted sequence comes back: prompt + generated tokens are recomputed.
      s = resume_.back();
      resume_.pop_back();
      s.computed = 0;
      s.hashes_given = 0;
      last_op_ = "resume";
    } else {
      const int image = Uniform(0, 3);  // 0: text only
      if (image != 0) {
        s.tokens.assign(kImageTokens, kImageToken);
        s.images.push_back({0, kImageTokens, 0x1000u + image});
      }
      const auto& family = families_[Uniform(0, 2)];
      const int shared = Uniform(0, static_cast<int>(family.size()));
      s.tokens.insert(s.tokens.end(), family.begin(), family.begin() + shared);
      const int tail = Uniform(s.tokens.empty() ? 1 : 0, 5);
      for (int i = 0; i < tail; ++i) s.tokens.push_back(Uniform(20, 23));
      last_op_ = "allocate";
    }
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    std::vector<uint64_t> hashes = FullHashes(s);
    hashes.resize(Uniform(0, 3) == 0 ? Uniform(0, static_cast<int>(hashes.size()))
                                     : hashes.size());
    const SeqId id = next_id_++;
    const bool can = m().CanAllocate(n, hashes);
    const int64_t needed = m().BlocksNeededToAllocate(n, hashes);
    EXPECT_EQ(can, needed <= m().num_free_blocks());
    const std::string before = m().DebugString();
    absl::StatusOr<int64_t> cached = m().Allocate(id, n, hashes);
    EXPECT_EQ(can, cached.ok()) << cached.status();
    if (!cached.ok()) {
      EXPECT_EQ(cached.status().code(), absl::StatusCode::kResourceExhausted);
      EXPECT_EQ(m().DebugString(), before) << "refused Allocate changed the state";
      if (Uniform(0, 1) == 0) resume_.push_back(s);  // retried later, like a queued request
      ++cov_->refused_allocations;
      return;
    }
    ++cov_->allocations;
    if (*cached > 0) ++(resumed ? cov_->resumed_with_hits : cov_->allocations_with_hits);
    EXPECT_EQ(*cached % bs_, 0);
    EXPECT_LE(*cached, (n - 1) / bs_ * bs_);
    EXPECT_LE(*cached, static_cast<int64_t>(hashes.size()) * bs_);
    if (!prefix_) {
      EXPECT_EQ(*cached, 0);
    }
    queries_ += prefix_ ? n : 0;
    hits_ += *cached;
    s.computed = *cached;
    s.hashes_given = hashes.size();
    live_[id] = s;
  }

  void Compute() {
    if (live_.empty()) return;
    const SeqId id = PickLive();
    SimSeq& s = live_[id];
    const int64_t remaining = static_cast<int64_t>(s.tokens.size()) - s.computed;
    if (remaining == 0) return;
    const int64_t chunk = Uniform(1, static_cast<int>(remaining));
    for (int64_t p = s.computed; p < s.computed + chunk; ++p) Write(id, s, p);
    s.computed += chunk;
    EXPECT_TRUE(m().MarkComputed(id, s.computed).ok());
    last_op_ = absl::StrCat("compute ", id, " +", chunk);
  }

  void AppendTokens() {
    if (live_.empty()) return;
    const SeqId id = PickLive();
    SimSeq& s = live_[id];
    const int n = Uniform(0, 3);
    const bool can = m().CanAppend(id, n);
    const std::string before = m().DebugString();
    absl::StatusOr<std::optional<BlockCopy>> r = m().Append(id, n);
    EXPECT_EQ(can, r.ok()) << r.status();
    last_op_ = absl::StrCat("append ", id, " +", n);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
      EXPECT_EQ(m().DebugString(), before) << "refused Append changed the state";
      ++cov_->refused_appends;
      return;
    }
    if (r->has_value()) {
      const BlockCopy& c = **r;
      EXPECT_EQ(c.num_tokens, static_cast<int32_t>(s.tokens.size() % bs_));
      EXPECT_EQ(m().BlockTable(id)[s.tokens.size() / bs_], c.dst);  // the old partial block
      for (int i = 0; i < c.num_tokens; ++i) {
        EXPECT_TRUE(pool_[c.src][i].has_value()) << "copy of an unwritten slot";
        pool_[c.dst][i] = pool_[c.src][i];
      }
      last_op_ += " (copy-on-write)";
      ++cov_->copy_on_writes;
    }
    for (int i = 0; i < n; ++i) s.tokens.push_back(Uniform(20, 23));
  }

  void AddHashes() {
    if (live_.empty()) return;
    const SeqId id = PickLive();
    SimSeq& s = live_[id];
    const std::vector<uint64_t> all = FullHashes(s);
    const int k = Uniform(0, static_cast<int>(all.size() - s.hashes_given));
    std::vector<uint64_t> more(all.begin() + s.hashes_given, all.begin() + s.hashes_given + k);
    EXPECT_TRUE(m().AddBlockHashes(id, more).ok());
    s.hashes_given += k;
    // One hash too many is refused.
    if (s.hashes_given == all.size()) {
      EXPECT_EQ(m().AddBlockHashes(id, std::vector<uint64_t>{1}).code(),
                absl::StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(m().BlockHashes(id), std::vector<uint64_t>(all.begin(), all.begin() + s.hashes_given));
    last_op_ = absl::StrCat("add hashes ", id, " +", k);
  }

  void ForkSequence() {
    if (live_.empty()) return;
    SeqId parent = PickLive();
    if (Uniform(0, 3) != 0) {
      // Mostly fork sequences whose KV is written (decode), as parallel sampling does.
      for (const auto& [id, s] : live_) {
        if (s.computed == static_cast<int64_t>(s.tokens.size())) parent = id;
      }
    }
    const SeqId child = next_id_++;
    absl::Status st = m().Fork(parent, child);
    const SimSeq& p = live_[parent];
    last_op_ = absl::StrCat("fork ", parent, " -> ", child);
    if (p.computed != static_cast<int64_t>(p.tokens.size())) {
      EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
      ++cov_->refused_forks;
      return;
    }
    EXPECT_TRUE(st.ok()) << st;
    ++cov_->forks;
    live_[child] = live_[parent];
  }

  void TruncateSequence() {
    if (live_.empty()) return;
    const SeqId id = PickLive();
    SimSeq& s = live_[id];
    const int64_t n = Uniform(0, static_cast<int>(s.tokens.size()));
    EXPECT_TRUE(m().Truncate(id, n).ok());
    s.tokens.resize(n);
    for (ExtraKeyRange& r : s.images) r.end = std::min(r.end, n);
    s.computed = std::min(s.computed, n);
    s.hashes_given = std::min<size_t>(s.hashes_given, n / bs_);
    ++cov_->truncations;
    last_op_ = absl::StrCat("truncate ", id, " to ", n);
  }

  void FreeSequence(bool preempt) {
    if (live_.empty()) return;
    const SeqId id = PickLive();
    if (preempt && !live_[id].tokens.empty()) resume_.push_back(live_[id]);
    m().Free(id);
    live_.erase(id);
    last_op_ = absl::StrCat(preempt ? "preempt " : "free ", id);
  }

  void FreeAll() {
    // Random order: finish, cancel and preempt interleave.
    std::vector<SeqId> ids;
    for (const auto& [id, s] : live_) ids.push_back(id);
    std::shuffle(ids.begin(), ids.end(), rng_);
    for (SeqId id : ids) m().Free(id);
    live_.clear();
    EXPECT_EQ(m().num_used_blocks(), 0);
    EXPECT_EQ(m().UsageRatio(), 0.0);
    EXPECT_EQ(m().num_free_blocks(), m().num_blocks());  // all free or evictable
    EXPECT_EQ(m().num_sequences(), 0);
    for (BlockId b = 0; b < m().num_blocks(); ++b) EXPECT_EQ(m().RefCount(b), 0);
    last_op_ = "free all";
  }

  bool Check() {
    const absl::Status inv = m().CheckInvariants();
    EXPECT_TRUE(inv.ok()) << inv;
    // Ref counts from the outside: occurrences in the block tables of live sequences.
    std::vector<int32_t> occ(m().num_blocks(), 0);
    for (const auto& [id, s] : live_) {
      const std::vector<BlockId>& table = m().BlockTable(id);
      EXPECT_EQ(m().NumTokens(id), static_cast<int64_t>(s.tokens.size()));
      EXPECT_EQ(m().NumComputedTokens(id), s.computed);
      EXPECT_EQ(static_cast<int64_t>(table.size()),
                (static_cast<int64_t>(s.tokens.size()) + bs_ - 1) / bs_);
      std::vector<BlockId> sorted = table;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_TRUE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end())
          << "block twice in seq " << id;
      for (BlockId b : table) ++occ[b];
      // The KV this sequence would read is its own.
      for (int64_t p = 0; p < s.computed; ++p) {
        const std::optional<Slot>& got = pool_[table[p / bs_]][p % bs_];
        if (!got.has_value() || *got != s.SlotAt(p)) {
          ADD_FAILURE() << "seq " << id << " position " << p << " reads wrong KV";
          return false;
        }
      }
    }
    int64_t used = 0;
    for (BlockId b = 0; b < m().num_blocks(); ++b) {
      EXPECT_EQ(m().RefCount(b), occ[b]) << "block " << b;
      if (occ[b] > 0) ++used;
      // A registered block holds exactly the content its hash stands for.
      if (std::optional<uint64_t> h = m().RegisteredHash(b)) {
        auto it = hash_content_.find(*h);
        if (it == hash_content_.end()) {
          ADD_FAILURE() << "block " << b << " registered under an unknown hash";
          return false;
        }
        for (int i = 0; i < bs_; ++i) {
          if (!pool_[b][i].has_value() || *pool_[b][i] != it->second[i]) {
            ADD_FAILURE() << "registered block " << b << " slot " << i << " differs from its hash";
            return false;
          }
        }
      }
    }
    EXPECT_EQ(m().num_used_blocks(), used);
    EXPECT_EQ(m().num_free_blocks() + used, m().num_blocks());
    EXPECT_DOUBLE_EQ(m().UsageRatio(), static_cast<double>(used) / m().num_blocks());
    EXPECT_EQ(m().stats().prefix_cache_queries, queries_);
    EXPECT_EQ(m().stats().prefix_cache_hits, hits_);
    return inv.ok() && !::testing::Test::HasFailure();
  }

  std::mt19937_64 rng_;
  const int32_t bs_;
  const bool prefix_;
  Coverage* const cov_;
  std::optional<KvCacheManager> m_;
  std::vector<std::vector<std::optional<Slot>>> pool_;  // [num_blocks][block_size]
  std::map<SeqId, SimSeq> live_;
  std::vector<SimSeq> resume_;
  std::unordered_map<uint64_t, std::vector<Slot>> hash_content_;
  std::vector<int32_t> families_[3];
  SeqId next_id_ = 1;
  int64_t queries_ = 0;
  int64_t hits_ = 0;
  std::string last_op_;
};

Coverage RunTrials(bool prefix, int trials, int steps) {
  Coverage cov;
  for (int trial = 0; trial < trials; ++trial) {
    std::mt19937_64 setup(trial * 7919 + (prefix ? 1 : 0));
    const int32_t block_size = std::uniform_int_distribution<int>(1, 5)(setup);
    const int32_t num_blocks = std::uniform_int_distribution<int>(1, 40)(setup);
    Simulation sim(setup(), block_size, num_blocks, prefix, &cov);
    for (int step = 0; step < steps; ++step) {
      if (!sim.Step()) {
        ADD_FAILURE() << "trial " << trial << " (block_size " << block_size << ", " << num_blocks
               << " blocks) step " << step << " after " << sim.last_op();
        return cov;
      }
    }
    sim.FreeAllAndCheckEmpty();
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "trial " << trial;
      return cov;
    }
  }
  std::printf(
      "allocations %lld (refused %lld, with hits %lld, resumed with hits %lld), refused appends "
      "%lld, copy-on-writes %lld, forks %lld (refused %lld), truncations %lld, evictions %lld\n",
      static_cast<long long>(cov.allocations), static_cast<long long>(cov.refused_allocations),
      static_cast<long long>(cov.allocations_with_hits),
      static_cast<long long>(cov.resumed_with_hits), static_cast<long long>(cov.refused_appends),
      static_cast<long long>(cov.copy_on_writes), static_cast<long long>(cov.forks),
      static_cast<long long>(cov.refused_forks), static_cast<long long>(cov.truncations),
      static_cast<long long>(cov.evictions));
  return cov;
}

TEST(KvCacheManagerPropertyTest, RandomOperationsWithPrefixCaching) {
  const Coverage cov = RunTrials(true, 3000, 250);
  EXPECT_GT(cov.allocations_with_hits, 1000);
  EXPECT_GT(cov.resumed_with_hits, 100);
  EXPECT_GT(cov.evictions, 1000);
  EXPECT_GT(cov.refused_allocations, 1000);
  EXPECT_GT(cov.refused_appends, 1000);
  EXPECT_GT(cov.copy_on_writes, 1000);
  EXPECT_GT(cov.forks, 1000);
  EXPECT_GT(cov.refused_forks, 1000);
  EXPECT_GT(cov.truncations, 1000);
}

TEST(KvCacheManagerPropertyTest, RandomOperationsWithoutPrefixCaching) {
  const Coverage cov = RunTrials(false, 500, 200);
  EXPECT_EQ(cov.allocations_with_hits + cov.resumed_with_hits + cov.evictions, 0);
  EXPECT_GT(cov.copy_on_writes, 100);
}

}  // namespace
}  // namespace drivelm::engine
