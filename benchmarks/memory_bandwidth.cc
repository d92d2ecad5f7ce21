// Achievable host memory bandwidth of this machine: the roofline that decode on the CPU backend
// (one pass over every weight per token) is measured against.
//
//   bazel run -c opt //benchmarks:memory_bandwidth -- [--size_mib=1024] [--reps=5] [--threads=0]
//
// For each of memcpy, a read-only sum and a memset, on one thread and on all threads (0 = all
// cores), prints the best of --reps passes over a --size_mib buffer. GB/s is 1e9 bytes per
// second of traffic: a copy counts its bytes read plus bytes written (STREAM's convention), so
// copy and read figures are comparable.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <emmintrin.h>
#include <functional>
#include <string>

#include "engine/backend/cpu/thread_pool.h"

namespace drivelm::engine {
namespace {

struct Options {
  int64_t size_mib = 1024;
  int reps = 5;
  int threads = 0;
};

enum class Flag { kNoMatch, kOk, kBad };

// Parses "--name=N" with N a positive integer into *out.
Flag ParseFlag(const char* arg, const char* name, int64_t* out) {
  const size_t len = std::strlen(name);
  if (std::strncmp(arg, name, len) != 0 || arg[len] != '=') return Flag::kNoMatch;
  char* end = nullptr;
  const long long v = std::strtoll(arg + len + 1, &end, 10);
  if (end == arg + len + 1 || *end != '\0' || v < 0 || v > (1LL << 30)) return Flag::kBad;
  *out = v;
  return Flag::kOk;
}

// Best seconds of `reps` runs of fn.
double BestOf(int reps, const std::function<void()>& fn) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

// Sum of 64-bit words in 128-bit lanes with 4 independent accumulators (SSE2, in every x86-64),
// so the adds never limit the read rate.
uint64_t SumWords(const uint64_t* p, int64_t n) {
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = _mm_add_epi64(a0, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i)));
    a1 = _mm_add_epi64(a1, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 2)));
    a2 = _mm_add_epi64(a2, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 4)));
    a3 = _mm_add_epi64(a3, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 6)));
  }
  alignas(16) uint64_t lanes[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes),
                  _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3)));
  uint64_t s = lanes[0] + lanes[1];
  for (; i < n; ++i) s += p[i];
  return s;
}

void Report(const char* what, int threads, double bytes, double seconds) {
  std::printf("%-10s threads=%-3d %8.2f GB/s  (%.1f ms per pass)\n", what, threads,
              bytes / seconds / 1e9, seconds * 1e3);
}

int Run(const Options& opt) {
  const int64_t bytes = opt.size_mib << 20;
  const int64_t words = bytes / 8;
  auto* src = static_cast<uint64_t*>(std::aligned_alloc(4096, static_cast<size_t>(bytes)));
  auto* dst = static_cast<uint64_t*>(std::aligned_alloc(4096, static_cast<size_t>(bytes)));
  if (src == nullptr || dst == nullptr) {
    std::fprintf(stderr, "cannot allocate 2 x %lld MiB\n", static_cast<long long>(opt.size_mib));
    return 1;
  }
  // Touch every page first so that page faults are not timed.
  for (int64_t i = 0; i < words; ++i) src[i] = static_cast<uint64_t>(i);
  std::memset(dst, 1, static_cast<size_t>(bytes));

  ThreadPool all(opt.threads);
  std::printf("buffer %lld MiB, best of %d, %d hardware threads\n",
              static_cast<long long>(opt.size_mib), opt.reps, all.num_threads());
  volatile uint64_t sink = 0;
  for (int threads : {1, all.num_threads()}) {
    ThreadPool pool(threads);
    // Pieces of at least 4 MiB: big sequential streams per thread.
    const int64_t piece_words = int64_t{1} << 19;
    const int64_t pieces = (words + piece_words - 1) / piece_words;
    // Words of pieces [p0, p1).
    auto begin_of = [&](int64_t p0) { return p0 * piece_words; };
    auto end_of = [&](int64_t p1) { return std::min(words, p1 * piece_words); };
    double t = BestOf(opt.reps, [&] {
      pool.ParallelFor(pieces, [&](int64_t p0, int64_t p1) {
        const int64_t b = begin_of(p0), e = end_of(p1);
        std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * 8);
      });
    });
    Report("memcpy", threads, 2.0 * bytes, t);
    t = BestOf(opt.reps, [&] {
      std::atomic<uint64_t> total{0};
      pool.ParallelFor(pieces, [&](int64_t p0, int64_t p1) {
        const int64_t b = begin_of(p0), e = end_of(p1);
        total.fetch_add(SumWords(src + b, e - b));
      });
      sink = sink + total.load();
    });
    Report("read (sum)", threads, 1.0 * bytes, t);
    t = BestOf(opt.reps, [&] {
      pool.ParallelFor(pieces, [&](int64_t p0, int64_t p1) {
        const int64_t b = begin_of(p0), e = end_of(p1);
        std::memset(dst + b, 0, static_cast<size_t>(e - b) * 8);
      });
    });
    Report("memset", threads, 1.0 * bytes, t);
    if (threads == all.num_threads()) break;  // one-thread machine: a single row
  }
  std::free(src);
  std::free(dst);
  return 0;
}

}  // namespace
}  // namespace drivelm::engine

int main(int argc, char** argv) {
  using drivelm::engine::Flag;
  using drivelm::engine::ParseFlag;
  drivelm::engine::Options opt;
  for (int i = 1; i < argc; ++i) {
    int64_t size = 0, reps = 0, threads = 0;
    Flag f;
    if ((f = ParseFlag(argv[i], "--size_mib", &size)) != Flag::kNoMatch) {
      if (f == Flag::kOk && size > 0) {
        opt.size_mib = size;
        continue;
      }
    } else if ((f = ParseFlag(argv[i], "--reps", &reps)) != Flag::kNoMatch) {
      if (f == Flag::kOk && reps > 0) {
        opt.reps = static_cast<int>(reps);
        continue;
      }
    } else if ((f = ParseFlag(argv[i], "--threads", &threads)) != Flag::kNoMatch) {
      if (f == Flag::kOk && threads <= 4096) {
        opt.threads = static_cast<int>(threads);
        continue;
      }
    }
    std::fprintf(stderr,
                 "usage: memory_bandwidth [--size_mib=N>0] [--reps=N>0] [--threads=N>=0]\n"
                 "unknown or invalid argument: %s\n",
                 argv[i]);
    return 2;
  }
  return drivelm::engine::Run(opt);
}
