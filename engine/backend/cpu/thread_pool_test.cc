#include "engine/backend/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

// Runs ParallelFor and checks that the chunks cover [0, n) exactly once, each within bounds.
void ExpectExactCover(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::atomic<int> bad_range{0};
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        if (begin < 0 || end > n || begin >= end) bad_range.fetch_add(1);
        for (int64_t i = begin; i < end && i < n; ++i) hits[i].fetch_add(1);
      },
      grain);
  EXPECT_EQ(bad_range.load(), 0) << "n=" << n << " grain=" << grain;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of n=" << n << " grain=" << grain;
  }
}

TEST(ThreadPoolTest, ZeroMeansHardwareConcurrency) {
  ThreadPool pool(0);
  EXPECT_GE(pool.num_threads(), 1);
  unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_EQ(pool.num_threads(), static_cast<int>(hw));
  }
}

TEST(ThreadPoolTest, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t n : {1, 2, 3, 7, 31, 32, 33, 1000, 100003}) {
      for (int64_t grain : {1, 5, 64, 1 << 20}) ExpectExactCover(pool, n, grain);
    }
  }
}

TEST(ThreadPoolTest, NonPositiveNDoesNothing) {
  ThreadPool pool(4);
  int calls = 0;
  pool.ParallelFor(0, [&](int64_t, int64_t) { ++calls; });
  pool.ParallelFor(-5, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPoolTest, ChunksRespectGrain) {
  ThreadPool pool(4);
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.ParallelFor(
      1000,
      [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lock(mu);
        chunks.emplace_back(b, e);
      },
      100);
  ASSERT_FALSE(chunks.empty());
  for (auto [b, e] : chunks) {
    if (e != 1000) {
      EXPECT_GE(e - b, 100) << b << ".." << e;
    }
  }
}

TEST(ThreadPoolTest, UsesMoreThanOneThread) {
  ThreadPool pool(4);
  std::mutex mu;
  std::set<std::thread::id> ids;
  // Each chunk waits a little so that workers get a chance to claim chunks.
  pool.ParallelFor(64, [&](int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GT(ids.size(), 1u);
}

TEST(ThreadPoolTest, ManySmallCallsBackToBack) {
  // Stresses the handoff between jobs: a worker must never run a chunk of a finished job.
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  for (int iter = 0; iter < 2000; ++iter) {
    pool.ParallelFor(17, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
    });
  }
  EXPECT_EQ(sum.load(), 2000 * (16 * 17 / 2));
}

TEST(ThreadPoolTest, NestedCallRunsInline) {
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  pool.ParallelFor(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      pool.ParallelFor(10, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
    }
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerializedAndCorrect) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::vector<int64_t> sums(4, 0);
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int iter = 0; iter < 200; ++iter) {
        std::atomic<int64_t> s{0};
        pool.ParallelFor(100, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) s.fetch_add(i);
        });
        sums[c] += s.load();
      }
    });
  }
  for (std::thread& t : callers) t.join();
  for (int c = 0; c < 4; ++c) EXPECT_EQ(sums[c], 200 * 4950);
}

TEST(ThreadPoolTest, ExceptionIsRethrownAfterAllChunksFinish) {
  ThreadPool pool(4);
  std::atomic<int64_t> done{0};
  EXPECT_THROW(pool.ParallelFor(100,
                                [&](int64_t b, int64_t e) {
                                  if (b == 0) throw std::runtime_error("chunk 0 failed");
                                  done.fetch_add(e - b);
                                }),
               std::runtime_error);
  EXPECT_GT(done.load(), 0);
  EXPECT_LT(done.load(), 100);
  // The pool is still usable afterwards.
  ExpectExactCover(pool, 1000, 1);
}

TEST(ThreadPoolTest, DestroyIdleAndUnusedPools) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool unused(4);
    ThreadPool used(4);
    ExpectExactCover(used, 10, 1);
  }
}

}  // namespace
}  // namespace drivelm::engine
