// kernel_bench: each kernel of kernels/ at PaliGemma-3B shapes (DESIGN.md §5), timed with CUDA
// events, against the ceilings measured on the same device first:
// - memory bandwidth: the faster of a large device-to-device cudaMemcpy and a float4 copy kernel
//   (bytes read + bytes written);
// - matrix rates: cuBLAS 8192^3 SGEMM (fp32, no TF32), TF32 and bf16 GEMMs (fp32 accumulation).
// Each kernel reports its minimum traffic (every input read once, every output written once) and
// FLOPs, the achieved GB/s and GFLOP/s, and the percentage of the matching ceiling. Inputs are
// random (never zeros: /work/.library/device/METHOD.md).
//
//   kernel_bench [--quick] [--json PATH]
//
// Today's kernels are fp32 and simple (kernels/README.md); these numbers are the baseline the
// bf16 / flash-attention work is measured against.
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/gpu/device_util.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/im2patches.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "kernels/rows.h"

namespace drivelm::gpu {
namespace {

#define CUBLAS_CHECK(call)                                                                  \
  do {                                                                                      \
    const cublasStatus_t st_ = (call);                                                      \
    if (st_ != CUBLAS_STATUS_SUCCESS) {                                                     \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,             \
                   cublasGetStatusString(st_));                                             \
      std::exit(2);                                                                         \
    }                                                                                       \
  } while (0)

// Inside timed loops: check the kernels' returned error text without synchronizing (TimeMs checks
// cudaGetLastError after the loop); KERNEL_CHECK (device_util.h) synchronizes after each launch.
#define LAUNCH_CHECK(call)                                                                  \
  do {                                                                                      \
    const std::string kerr_ = (call);                                                       \
    if (!kerr_.empty()) {                                                                   \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,            \
                   kerr_.c_str());                                                          \
      std::exit(2);                                                                         \
    }                                                                                       \
  } while (0)

bool g_quick = false;

// Uniform pseudo-random values in [lo, hi) from a counter hash (splitmix64): fills gigabytes fast.
__device__ __forceinline__ float HashUniform(uint64_t i, uint64_t seed, float lo, float hi) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
  return lo + (hi - lo) * u;
}

template <typename T>
__global__ void FillKernel(T* p, int64_t n, uint64_t seed, float lo, float hi) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    p[i] = static_cast<T>(HashUniform(static_cast<uint64_t>(i), seed, lo, hi));
  }
}

__global__ void FillIntKernel(int32_t* p, int64_t n, uint64_t seed, int32_t modulo) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float u = HashUniform(static_cast<uint64_t>(i), seed, 0.0f, 1.0f);
    p[i] = min(static_cast<int32_t>(u * modulo), modulo - 1);
  }
}

__global__ void CopyKernel(const float4* __restrict__ src, float4* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = src[i];
  }
}

uint64_t g_seed = 1;

template <typename T>
void Fill(DeviceArray<T>& a, float lo = -1.0f, float hi = 1.0f) {
  FillKernel<T><<<4096, 256>>>(a.get(), static_cast<int64_t>(a.size()), g_seed++, lo, hi);
  DEVICE_CHECK(cudaGetLastError());
}

void FillInt(DeviceArray<int32_t>& a, int32_t modulo) {
  FillIntKernel<<<1024, 256>>>(a.get(), static_cast<int64_t>(a.size()), g_seed++, modulo);
  DEVICE_CHECK(cudaGetLastError());
}

// Mean milliseconds per call of fn over `reps` calls after `warmup` calls.
double TimeMs(const std::function<void()>& fn, int reps, int warmup = 3) {
  for (int i = 0; i < warmup; ++i) fn();
  DEVICE_CHECK(cudaDeviceSynchronize());
  cudaEvent_t start, stop;
  DEVICE_CHECK(cudaEventCreate(&start));
  DEVICE_CHECK(cudaEventCreate(&stop));
  DEVICE_CHECK(cudaEventRecord(start));
  for (int i = 0; i < reps; ++i) fn();
  DEVICE_CHECK(cudaEventRecord(stop));
  DEVICE_CHECK(cudaEventSynchronize(stop));
  DEVICE_CHECK(cudaGetLastError());
  float ms = 0;
  DEVICE_CHECK(cudaEventElapsedTime(&ms, start, stop));
  DEVICE_CHECK(cudaEventDestroy(start));
  DEVICE_CHECK(cudaEventDestroy(stop));
  return ms / reps;
}

int Reps(int full) { return g_quick ? std::max(2, full / 10) : full; }

struct Ceilings {
  double memcpy_gbps = 0, copy_kernel_gbps = 0, bw_gbps = 0;
  double sgemm_tflops = 0, tf32_tflops = 0, bf16_tflops = 0;
};

struct Row {
  std::string name, shape;
  double us = 0, bytes = 0, flops = 0;
  double gbps = 0, pct_bw = 0, gflops = 0, pct_fp32 = 0;
};

std::vector<Row> g_rows;
Ceilings g_ceil;

void Record(const std::string& name, const std::string& shape, double ms, double bytes,
            double flops) {
  Row r;
  r.name = name;
  r.shape = shape;
  r.us = ms * 1e3;
  r.bytes = bytes;
  r.flops = flops;
  r.gbps = bytes / (ms * 1e-3) / 1e9;
  r.pct_bw = 100.0 * r.gbps / g_ceil.bw_gbps;
  r.gflops = flops / (ms * 1e-3) / 1e9;
  r.pct_fp32 = flops > 0 ? 100.0 * r.gflops / (g_ceil.sgemm_tflops * 1e3) : 0.0;
  std::printf("%-34s %-28s %10.1f us %8.1f GB/s (%5.1f%% bw) %9.1f GFLOP/s (%5.1f%% sgemm)\n",
              name.c_str(), shape.c_str(), r.us, r.gbps, r.pct_bw, r.gflops, r.pct_fp32);
  std::fflush(stdout);
  g_rows.push_back(r);
}

void MeasureCeilings(cublasHandle_t h) {
  {
    const int64_t n = int64_t{1} << 28;  // 1 GiB of floats
    DeviceArray<float> a(n), b(n);
    Fill(a);
    const double bytes = 2.0 * n * sizeof(float);
    double ms = TimeMs([&] {
      DEVICE_CHECK(cudaMemcpyAsync(b.get(), a.get(), n * sizeof(float), cudaMemcpyDeviceToDevice));
    }, Reps(20));
    g_ceil.memcpy_gbps = bytes / (ms * 1e-3) / 1e9;
    int sms = 0;
    DEVICE_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    ms = TimeMs([&] {
      CopyKernel<<<sms * 8, 512>>>(reinterpret_cast<const float4*>(a.get()),
                                   reinterpret_cast<float4*>(b.get()), n / 4);
    }, Reps(20));
    g_ceil.copy_kernel_gbps = bytes / (ms * 1e-3) / 1e9;
    g_ceil.bw_gbps = std::max(g_ceil.memcpy_gbps, g_ceil.copy_kernel_gbps);
  }
  const int n = 8192;
  const double flops = 2.0 * n * n * n;
  {
    DeviceArray<float> a(int64_t{n} * n), b(int64_t{n} * n), c(int64_t{n} * n);
    Fill(a);
    Fill(b);
    const float alpha = 1.0f, beta = 0.0f;
    CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    double ms = TimeMs([&] {
      CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.get(), n, b.get(), n,
                               &beta, c.get(), n));
    }, Reps(5));
    g_ceil.sgemm_tflops = flops / (ms * 1e-3) / 1e12;
    ms = TimeMs([&] {
      CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.get(), CUDA_R_32F,
                                n, b.get(), CUDA_R_32F, n, &beta, c.get(), CUDA_R_32F, n,
                                CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
    }, Reps(10));
    g_ceil.tf32_tflops = flops / (ms * 1e-3) / 1e12;
  }
  {
    DeviceArray<__nv_bfloat16> a(int64_t{n} * n), b(int64_t{n} * n), c(int64_t{n} * n);
    Fill(a);
    Fill(b);
    const float alpha = 1.0f, beta = 0.0f;
    const double ms = TimeMs([&] {
      CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.get(), CUDA_R_16BF,
                                n, b.get(), CUDA_R_16BF, n, &beta, c.get(), CUDA_R_16BF, n,
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }, Reps(20));
    g_ceil.bf16_tflops = flops / (ms * 1e-3) / 1e12;
  }
  CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  std::printf("ceilings: memcpy %.0f GB/s, copy kernel %.0f GB/s; SGEMM %.1f TFLOP/s, TF32 %.1f, "
              "BF16 %.1f (8192^3, random data)\n",
              g_ceil.memcpy_gbps, g_ceil.copy_kernel_gbps, g_ceil.sgemm_tflops, g_ceil.tf32_tflops,
              g_ceil.bf16_tflops);
}

std::string Dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  for (int64_t v : d) s += (s.size() > 1 ? "," : "") + std::to_string(v);
  return s + "]";
}

// PaliGemma-3B: text hidden 2048, intermediate 16384, 8 heads, 1 KV head, head_dim 256, vocab
// 257216; SigLIP hidden 1152, intermediate 4304, 16 heads, head_dim 72, 256 patches per image.
// A six-camera prefill is 6 * 256 + ~20 tokens: 1600 here.
constexpr int64_t kT = 1600, kH = 2048, kI = 16384, kHeads = 8, kHd = 256, kVocab = 257216;
constexpr int64_t kVt = 6 * 256, kVh = 1152, kVi = 4304, kVheads = 16, kVhd = 72;

void BenchKernels(void* cublas) {
  const double f = sizeof(float);
  {
    DeviceArray<float> x(kT * kH), w(kH), y(kT * kH);
    Fill(x), Fill(w);
    for (int64_t rows : {kT, int64_t{64}}) {
      const double ms = TimeMs([&] {
        LAUNCH_CHECK(kernels::RmsNormF32(x.get(), w.get(), 1e-6f, 1.0f, rows, kH, y.get(), nullptr));
      }, Reps(50));
      Record("rms_norm", Dims({rows, kH}), ms, (2.0 * rows * kH + kH) * f, 0);
    }
    double ms = TimeMs([&] { LAUNCH_CHECK(kernels::AddF32(y.get(), x.get(), kT * kH, kT * kH, nullptr)); }, Reps(50));
    Record("add (residual)", Dims({kT, kH}), ms, 3.0 * kT * kH * f, 0);
    ms = TimeMs([&] { LAUNCH_CHECK(kernels::ScaleF32(y.get(), 1.0001f, kT * kH, nullptr)); }, Reps(50));
    Record("scale", Dims({kT, kH}), ms, 2.0 * kT * kH * f, 0);
  }
  {
    DeviceArray<float> x(kVt * kVh), w(kVh), b(kVh), y(kVt * kVh), pos(256 * kVh);
    Fill(x), Fill(w), Fill(b), Fill(pos);
    double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::LayerNormF32(x.get(), w.get(), b.get(), 1e-6f, kVt, kVh, y.get(), nullptr));
    }, Reps(50));
    Record("layer_norm", Dims({kVt, kVh}), ms, (2.0 * kVt * kVh + 2.0 * kVh) * f, 0);
    ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::AddF32(y.get(), pos.get(), kVt * kVh, 256 * kVh, nullptr));
    }, Reps(50));
    Record("add (position embedding)", Dims({kVt, kVh}), ms, (2.0 * kVt * kVh + 256.0 * kVh) * f, 0);
  }
  {
    DeviceArray<float> x(kVt * kVi);
    Fill(x, -4.0f, 4.0f);
    const double ms = TimeMs([&] { LAUNCH_CHECK(kernels::GeluTanhF32(x.get(), kVt * kVi, nullptr)); }, Reps(20));
    Record("gelu_tanh", Dims({kVt, kVi}), ms, 2.0 * kVt * kVi * f, 0);
  }
  {
    DeviceArray<float> g(kT * kI), u(kT * kI), y(kT * kI);
    Fill(g, -4.0f, 4.0f), Fill(u);
    const double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::GeluTanhMulF32(g.get(), u.get(), y.get(), kT * kI, nullptr));
    }, Reps(20));
    Record("gelu_tanh_mul", Dims({kT, kI}), ms, 3.0 * kT * kI * f, 0);
  }
  {
    DeviceArray<float> x(64 * kVocab);
    Fill(x, -50.0f, 50.0f);
    const double ms = TimeMs([&] { LAUNCH_CHECK(kernels::SoftCapF32(x.get(), 30.0f, 64 * kVocab, nullptr)); }, Reps(20));
    Record("soft_cap (logits)", Dims({64, kVocab}), ms, 2.0 * 64 * kVocab * f, 0);
  }
  {
    DeviceArray<float> q(kT * kHeads * kHd);
    DeviceArray<int32_t> positions(kT);
    Fill(q);
    FillInt(positions, 2048);
    DeviceArray<float> inv(kernels::RopeInvFreq(10000.0f, kHd));
    const double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::RopeF32(q.get(), positions.get(), inv.get(), kT, kHeads, kHd, nullptr));
    }, Reps(50));
    Record("rope (q)", Dims({kT, kHeads, kHd}), ms, 2.0 * kT * kHeads * kHd * f, 0);
  }
  {
    DeviceArray<float> pixels(6 * 3 * 224 * 224), patches(kVt * 3 * 14 * 14);
    Fill(pixels);
    const double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::Im2PatchesF32(pixels.get(), 6, 3, 224, 224, 14, patches.get(), nullptr));
    }, Reps(50));
    Record("im2patches", Dims({6, 3, 224, 224}), ms, 2.0 * 6 * 3 * 224 * 224 * f, 0);
  }
  {
    DeviceArray<float> src(kT * kH), dst(64 * kH), pool(8192 * kHd), kv(64 * kHd);
    Fill(src), Fill(kv);
    std::vector<int64_t> rows(64), slots(64);
    for (int i = 0; i < 64; ++i) rows[i] = (i * 97) % kT, slots[i] = (i * 131) % 8192;
    DeviceArray<int64_t> drows(rows), dslots(slots);
    double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::GatherRows(src.get(), drows.get(), 64, kH * 4, dst.get(), nullptr));
    }, Reps(50));
    Record("gather_rows (last tokens)", Dims({64, kH}), ms, 2.0 * 64 * kH * f, 0);
    ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::ScatterRows(kv.get(), dslots.get(), 64, kHd * 4, pool.get(), nullptr));
    }, Reps(50));
    Record("scatter_rows (KV write)", Dims({64, 1, kHd}), ms, 2.0 * 64 * kHd * f, 0);
  }
  {
    // The tied embedding / LM head table: 2.1 GB in fp32.
    DeviceArray<float> table(kVocab * kH);
    Fill(table);
    DeviceArray<int32_t> ids(kT);
    FillInt(ids, static_cast<int32_t>(kVocab));
    DeviceArray<float> y(kT * kH);
    double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::EmbedF32(table.get(), ids.get(), kT, kH, 45.25f, y.get(), nullptr));
    }, Reps(50));
    Record("embed", Dims({kT, kH}), ms, 2.0 * kT * kH * f, 0);
    DeviceArray<float> x(64 * kH), logits(64 * kVocab);
    Fill(x);
    for (int64_t m : {int64_t{1}, int64_t{64}}) {
      ms = TimeMs([&] {
        LAUNCH_CHECK(kernels::LinearF32(cublas, x.get(), table.get(), nullptr, m, kVocab, kH, logits.get()));
      }, Reps(10));
      Record("linear sgemm (lm_head)", Dims({m, kH, kVocab}), ms,
             (double(m) * kH + double(kVocab) * kH + double(m) * kVocab) * f, 2.0 * m * kH * kVocab);
    }
  }
  {
    DeviceArray<float> x(kT * kH), w(kI * kH), y(kT * kI);
    Fill(x), Fill(w);
    for (int64_t m : {int64_t{1}, int64_t{64}, kT}) {
      const double ms = TimeMs([&] {
        LAUNCH_CHECK(kernels::LinearF32(cublas, x.get(), w.get(), nullptr, m, kI, kH, y.get()));
      }, Reps(m == kT ? 10 : 30));
      Record("linear sgemm (gate_proj)", Dims({m, kH, kI}), ms,
             (double(m) * kH + double(kI) * kH + double(m) * kI) * f, 2.0 * m * kH * kI);
    }
  }
  {
    // Prefill attention: six cameras + question, one bidirectional prefix, MQA.
    DeviceArray<float> q(kT * kHeads * kHd), k(kT * kHd), v(kT * kHd), o(kT * kHeads * kHd);
    Fill(q), Fill(k), Fill(v);
    kernels::AttentionMask m;
    m.scale = 1.0f / 16.0f;
    m.causal = true;
    m.prefix_len = kT;
    const double ms = TimeMs([&] {
      LAUNCH_CHECK(kernels::AttentionF32(q.get(), k.get(), v.get(), kT, kT, kHeads, 1, kHd, m, o.get(), nullptr));
    }, Reps(5), 1);
    Record("attention prefill (MQA)", Dims({kT, kHeads, kHd}), ms,
           (2.0 * kT * kHeads * kHd + 2.0 * kT * kHd) * f, 4.0 * kT * kT * kHeads * kHd);
  }
  {
    // SigLIP: each image's 256 patches attend to each other, 16 heads of 72.
    DeviceArray<float> q(kVt * kVh), k(kVt * kVh), v(kVt * kVh), o(kVt * kVh);
    Fill(q), Fill(k), Fill(v);
    kernels::AttentionMask m;
    m.scale = 1.0f / std::sqrt(72.0f);
    m.causal = false;
    const double ms = TimeMs([&] {
      for (int img = 0; img < 6; ++img) {
        const int64_t off = img * 256 * kVh;
        LAUNCH_CHECK(kernels::AttentionF32(q.get() + off, k.get() + off, v.get() + off, 256, 256,
                                           kVheads, kVheads, kVhd, m, o.get() + off, nullptr));
      }
    }, Reps(10));
    Record("attention SigLIP (6 images)", Dims({6, 256, kVheads, kVhd}), ms, 4.0 * kVt * kVh * f,
           6 * 4.0 * 256 * 256 * kVheads * kVhd);
  }
  {
    // Decode over the paged pool: each sequence has 1600 cached tokens in blocks of 16.
    const int64_t block = 16, kv_len = kT;
    for (int64_t batch : {int64_t{1}, int64_t{8}, int64_t{64}}) {
      const int64_t blocks_per_seq = kv_len / block;
      const int64_t pool_rows = batch * blocks_per_seq * block;
      DeviceArray<float> q(batch * kHeads * kHd), kp(pool_rows * kHd), vp(pool_rows * kHd),
          o(batch * kHeads * kHd);
      Fill(q), Fill(kp), Fill(vp);
      std::vector<kernels::PagedSeq> seqs(batch);
      std::vector<int32_t> tables, row_seq(batch);
      for (int64_t s = 0; s < batch; ++s) {
        seqs[s].q_begin = s;
        seqs[s].q_len = 1;
        seqs[s].kv_len = kv_len;
        seqs[s].table_offset = s * blocks_per_seq;
        seqs[s].mask.scale = 1.0f / 16.0f;
        seqs[s].mask.q_start = kv_len - 1;
        seqs[s].mask.prefix_len = kv_len - 20;
        row_seq[s] = static_cast<int32_t>(s);
        for (int64_t b = 0; b < blocks_per_seq; ++b) {
          tables.push_back(static_cast<int32_t>((b * batch + s) % (batch * blocks_per_seq)));
        }
      }
      DeviceArray<kernels::PagedSeq> dseqs(seqs);
      DeviceArray<int32_t> dtables(tables), drow(row_seq);
      const double ms = TimeMs([&] {
        LAUNCH_CHECK(kernels::PagedAttentionF32(q.get(), kp.get(), vp.get(), block, batch, kHeads, 1,
                                                kHd, dseqs.get(), drow.get(), dtables.get(), o.get(),
                                                nullptr));
      }, Reps(20));
      Record("paged attention decode", "batch " + std::to_string(batch) + " kv " + std::to_string(kv_len),
             ms, (2.0 * batch * kv_len * kHd + 2.0 * batch * kHeads * kHd) * f,
             4.0 * batch * kv_len * kHeads * kHd);
    }
  }
}

void WriteJson(const std::string& path, const cudaDeviceProp& prop) {
  std::ofstream out(path);
  char buf[512];
  out << "{\n  \"device\": \"" << prop.name << "\",\n  \"sms\": " << prop.multiProcessorCount
      << ",\n  \"note\": \"fp32 kernels (bf16 is the follow-up); percentages against the ceilings "
         "measured here\",\n";
  std::snprintf(buf, sizeof(buf),
                "  \"ceilings\": {\"memcpy_gbps\": %.1f, \"copy_kernel_gbps\": %.1f, \"bw_gbps\": %.1f, "
                "\"sgemm_tflops\": %.2f, \"tf32_tflops\": %.2f, \"bf16_tflops\": %.2f},\n",
                g_ceil.memcpy_gbps, g_ceil.copy_kernel_gbps, g_ceil.bw_gbps, g_ceil.sgemm_tflops,
                g_ceil.tf32_tflops, g_ceil.bf16_tflops);
  out << buf << "  \"kernels\": [\n";
  for (size_t i = 0; i < g_rows.size(); ++i) {
    const Row& r = g_rows[i];
    std::snprintf(buf, sizeof(buf),
                  "    {\"name\": \"%s\", \"shape\": \"%s\", \"us\": %.2f, \"bytes\": %.0f, "
                  "\"flops\": %.0f, \"gbps\": %.1f, \"pct_bw\": %.1f, \"gflops\": %.1f, "
                  "\"pct_sgemm\": %.1f}%s\n",
                  r.name.c_str(), r.shape.c_str(), r.us, r.bytes, r.flops, r.gbps, r.pct_bw,
                  r.gflops, r.pct_fp32, i + 1 < g_rows.size() ? "," : "");
    out << buf;
  }
  out << "  ]\n}\n";
}

}  // namespace
}  // namespace drivelm::gpu

int main(int argc, char** argv) {
  using namespace drivelm::gpu;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      g_quick = true;
    } else if (a == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "kernel_bench: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  DEVICE_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("kernel_bench on %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  void* cublas = nullptr;
  KERNEL_CHECK(drivelm::kernels::CreateCublasHandle(nullptr, &cublas));
  MeasureCeilings(static_cast<cublasHandle_t>(cublas));
  BenchKernels(cublas);
  drivelm::kernels::DestroyCublasHandle(cublas);
  if (!json.empty()) WriteJson(json, prop);
  return 0;
}
