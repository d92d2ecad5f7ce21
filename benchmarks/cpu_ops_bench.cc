// Throughput of the CPU reference backend's heavy ops on the shapes a PaliGemma-style model
// runs: Linear for decode (m = 1, bound by streaming the weight) and prefill (m = 512, bound by
// FLOPs), attention over 1,600 keys (six 256-token images + a prompt), and the row ops.
//
//   bazel run -c opt //benchmarks:cpu_ops_bench -- --benchmark_counters_tabular=true
//
// Counters: GFLOP/s counts 2 flops per multiply-add; GB/s counts the weight bytes streamed.
// The last benchmark argument is the thread count (0 = all cores).
#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/backend/cpu/cpu_backend.h"

namespace drivelm::engine {
namespace {

Tensor RandomTensor(CpuBackend& be, const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  for (float& x : v) x = dist(rng);
  return be.Upload(DType::kF32, shape, v.data());
}

// Args: m, k, n, threads.
void BM_Linear(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  CpuBackend be(static_cast<int>(state.range(3)));
  Tensor x = RandomTensor(be, {m, k}, 1), w = RandomTensor(be, {n, k}, 2);
  Tensor b = RandomTensor(be, {n}, 3), y = be.Empty(DType::kF32, {m, n});
  for (auto _ : state) {
    be.Linear(x, w, &b, &y);
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * k * n * iters / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(4.0 * n * k * iters / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(be.num_threads());
}
// Decode: one token against square weights and the Gemma-2B MLP shape (2048 -> 16384).
BENCHMARK(BM_Linear)
    ->ArgNames({"m", "k", "n", "thr"})
    ->Args({1, 1024, 1024, 1})->Args({1, 1024, 1024, 0})
    ->Args({1, 2048, 2048, 1})->Args({1, 2048, 2048, 0})
    ->Args({1, 2048, 16384, 0})
    // Prefill chunk of 512 tokens.
    ->Args({512, 1024, 1024, 1})->Args({512, 1024, 1024, 0})
    ->Args({512, 2048, 2048, 1})->Args({512, 2048, 2048, 0})
    ->Args({512, 2048, 16384, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// m = 1 through sgemm instead of sgemv: why Linear special-cases decode. Args: k, n, threads.
void BM_SgemmM1(benchmark::State& state) {
  const int64_t k = state.range(0), n = state.range(1);
  CpuBackend be(static_cast<int>(state.range(2)));  // sets OpenBLAS's threads
  Tensor x = RandomTensor(be, {1, k}, 1), w = RandomTensor(be, {n, k}, 2);
  Tensor y = be.Empty(DType::kF32, {1, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, static_cast<int>(n),
                static_cast<int>(k), 1.0f, x.f32(), static_cast<int>(k), w.f32(),
                static_cast<int>(k), 0.0f, y.f32(), static_cast<int>(n));
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(4.0 * n * k * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SgemmM1)
    ->ArgNames({"k", "n", "thr"})
    ->Args({2048, 2048, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: tq, tk, hq, hkv, head_dim, threads. Prefix-LM prefill: every key visible (PaliGemma's
// whole prefill is the prefix); decode: one query at position tk - 1.
void BM_Attention(benchmark::State& state) {
  const int64_t tq = state.range(0), tk = state.range(1), hq = state.range(2),
                hkv = state.range(3), d = state.range(4);
  CpuBackend be(static_cast<int>(state.range(5)));
  Tensor q = RandomTensor(be, {tq, hq, d}, 1), k = RandomTensor(be, {tk, hkv, d}, 2);
  Tensor v = RandomTensor(be, {tk, hkv, d}, 3), out = be.Empty(DType::kF32, {tq, hq, d});
  AttentionParams p;
  p.scale = 1.0f / std::sqrt(static_cast<float>(d));
  p.causal = true;
  p.q_start = tk - tq;
  p.prefix_len = tq == 1 ? tk - 1 : tk;
  for (auto _ : state) {
    be.Attention(q, k, v, p, &out);
    benchmark::DoNotOptimize(out.data());
  }
  // Two GEMMs (q.k^T and p.v), each 2 * tq * tk * d flops per head.
  state.counters["GFLOP/s"] = benchmark::Counter(
      4.0 * tq * tk * d * hq * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(be.num_threads());
}
BENCHMARK(BM_Attention)
    ->ArgNames({"tq", "tk", "hq", "hkv", "d", "thr"})
    // Gemma-2B layer (8 query heads, 1 KV head, head_dim 256).
    ->Args({1600, 1600, 8, 1, 256, 1})->Args({1600, 1600, 8, 1, 256, 0})
    ->Args({1, 1600, 8, 1, 256, 0})
    // A small model (4 heads of 64, MQA).
    ->Args({1600, 1600, 4, 1, 64, 0})->Args({1, 1600, 4, 1, 64, 0})
    // SigLIP so400m, one image (16 heads of 72, full attention).
    ->Args({256, 256, 16, 16, 72, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Row ops over a 1,600-token prefill. Args: rows, cols, threads.
void BM_RmsNorm(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  CpuBackend be(static_cast<int>(state.range(2)));
  Tensor x = RandomTensor(be, {rows, cols}, 1), w = RandomTensor(be, {cols}, 2);
  Tensor y = be.Empty(DType::kF32, {rows, cols});
  for (auto _ : state) be.RmsNorm(x, w, 1e-6f, 1.0f, &y);
  state.counters["GB/s"] = benchmark::Counter(8.0 * rows * cols * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RmsNorm)->Args({1600, 2048, 1})->Args({1600, 2048, 0})->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_GeluTanhMul(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  CpuBackend be(static_cast<int>(state.range(2)));
  Tensor g = RandomTensor(be, {rows, cols}, 1), u = RandomTensor(be, {rows, cols}, 2);
  Tensor y = be.Empty(DType::kF32, {rows, cols});
  for (auto _ : state) be.GeluTanhMul(g, u, &y);
  state.counters["Gelem/s"] = benchmark::Counter(1.0 * rows * cols * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GeluTanhMul)->Args({1600, 16384, 1})->Args({1600, 16384, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace drivelm::engine

BENCHMARK_MAIN();
