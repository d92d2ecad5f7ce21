#include "kernels/attention.h"

#include <cmath>

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64;  // keys scored per step
constexpr int64_t kMaxHeadDim = 4096;

// Key token j -> row of the K/V tensors.
struct ContiguousKeys {
  __device__ int64_t Row(int64_t j) const { return j; }
};
struct PagedKeys {
  const int32_t* table;
  int64_t block_size;
  __device__ int64_t Row(int64_t j) const {
    return static_cast<int64_t>(table[j / block_size]) * block_size + j % block_size;
  }
};

// The visible keys [*lo, *hi) of the query at position pos among tk keys (attention.h).
__device__ void VisibleKeys(const AttentionMask& m, int64_t pos, int64_t tk, int64_t* lo,
                            int64_t* hi) {
  int64_t l = 0;
  if (m.sliding_window > 0) l = min(max(pos - m.sliding_window + 1, int64_t{0}), tk);
  int64_t h = tk;
  if (m.causal) h = min(max(max(m.prefix_len, pos + 1), int64_t{0}), tk);
  *lo = l;
  *hi = h;
}

// One query row of one head against keys [lo, hi): the whole block works on it.
//   k, v: the first element of KV head g in key row 0; kv_stride: elements per key row.
// Per tile of up to kTile keys: each warp scores keys (lanes split the head dimension, coalesced),
// the block takes the tile's max, rescales its running sum l and accumulator by
// exp(m_old - m_new) (online softmax), turns the scores into exp(s - m_new) and adds p . V (each
// thread owns output dims t = tid, tid + kThreads, ...). Every thread computes m and l itself from
// the same shared scores in the same order, so they agree without another reduction.
// Shared memory: q [d], acc [d], p [kTile] floats.
template <typename T, typename Keys>
__device__ void AttendRow(const T* qrow, const T* k, const T* v, int64_t kv_stride, int64_t d,
                          int64_t lo, int64_t hi, const Keys& keys, float scale, float softcap,
                          T* orow) {
  extern __shared__ float smem[];
  float* q_s = smem;
  float* acc = smem + d;
  float* p = smem + 2 * d;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  if (lo >= hi) {  // no visible key (uniform over the block): zeros
    for (int64_t t = tid; t < d; t += kThreads) orow[t] = FromF32<T>(0.0f);
    return;
  }
  for (int64_t t = tid; t < d; t += kThreads) {
    q_s[t] = ToF32(qrow[t]);
    acc[t] = 0.0f;
  }
  __syncthreads();
  float m = -INFINITY;  // running max of the scores seen
  float l = 0.0f;       // running sum of exp(score - m)
  for (int64_t j0 = lo; j0 < hi; j0 += kTile) {
    const int n = static_cast<int>(min(static_cast<int64_t>(kTile), hi - j0));
    for (int jj = warp; jj < n; jj += kWarps) {
      const T* kr = k + keys.Row(j0 + jj) * kv_stride;
      float dot = 0.0f;
      for (int64_t t = lane; t < d; t += 32) dot += q_s[t] * ToF32(kr[t]);
      for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
      if (lane == 0) {
        float s = dot * scale;
        if (softcap > 0.0f) s = __fmul_rn(TanhViaDouble(__fdiv_rn(s, softcap)), softcap);
        p[jj] = s;
      }
    }
    __syncthreads();
    float tile_max = -INFINITY;
    for (int jj = 0; jj < n; ++jj) tile_max = fmaxf(tile_max, p[jj]);
    const float m_new = fmaxf(m, tile_max);
    const float corr = expf(m - m_new);  // first tile: exp(-inf) = 0, and acc = l = 0 anyway
    __syncthreads();  // every thread has read the scores before they become probabilities
    for (int jj = tid; jj < n; jj += kThreads) p[jj] = expf(p[jj] - m_new);
    __syncthreads();
    float tile_sum = 0.0f;
    for (int jj = 0; jj < n; ++jj) tile_sum += p[jj];
    l = l * corr + tile_sum;
    for (int64_t t = tid; t < d; t += kThreads) {
      float a = acc[t] * corr;
      for (int jj = 0; jj < n; ++jj) a += p[jj] * ToF32(v[keys.Row(j0 + jj) * kv_stride + t]);
      acc[t] = a;
    }
    m = m_new;
    __syncthreads();  // p is overwritten by the next tile
  }
  const float inv = 1.0f / l;
  for (int64_t t = tid; t < d; t += kThreads) orow[t] = FromF32<T>(acc[t] * inv);
}

// Block b: query row b / hq, head b % hq.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    AttentionKernel(const T* q, const T* k, const T* v, int64_t tk, int64_t hq, int64_t hkv,
                    int64_t d, AttentionMask mask, T* out) {
  const int64_t i = blockIdx.x / hq;
  const int64_t h = blockIdx.x % hq;
  const int64_t g = h / (hq / hkv);
  int64_t lo, hi;
  VisibleKeys(mask, mask.q_start + i, tk, &lo, &hi);
  const int64_t row = (i * hq + h) * d;
  AttendRow<T>(q + row, k + g * d, v + g * d, hkv * d, d, lo, hi, ContiguousKeys{}, mask.scale,
               mask.softcap, out + row);
}

// Block b: query row b / hq of the whole batch, head b % hq; the row's sequence from row_seq.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    PagedAttentionKernel(const T* q, const T* k_pool, const T* v_pool, int64_t block_size,
                         int64_t hq, int64_t hkv, int64_t d, const PagedSeq* seqs,
                         const int32_t* row_seq, const int32_t* block_tables, T* out) {
  const int64_t r = blockIdx.x / hq;
  const int64_t h = blockIdx.x % hq;
  const int32_t s = row_seq[r];
  if (s < 0) return;  // no sequence owns this row (uniform over the block)
  const PagedSeq seq = seqs[s];
  const int64_t g = h / (hq / hkv);
  int64_t lo, hi;
  VisibleKeys(seq.mask, seq.mask.q_start + (r - seq.q_begin), seq.kv_len, &lo, &hi);
  const int64_t row = (r * hq + h) * d;
  AttendRow<T>(q + row, k_pool + g * d, v_pool + g * d, hkv * d, d, lo, hi,
               PagedKeys{block_tables + seq.table_offset, block_size}, seq.mask.scale,
               seq.mask.softcap, out + row);
}

std::string CheckShapes(int64_t rows, int64_t hq, int64_t hkv, int64_t d) {
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0) return "attention: hq must be a positive multiple of hkv";
  if (d <= 0 || d > kMaxHeadDim) return "attention: head_dim must be in [1, 4096]";
  if (rows * hq > 0x7fffffff) return "attention: more than 2^31 - 1 (row, head) pairs";
  return "";
}

size_t SharedBytes(int64_t d) { return static_cast<size_t>(2 * d + kTile) * sizeof(float); }

// Above 48 KB a kernel needs an explicit opt-in for dynamic shared memory.
template <typename Kernel>
std::string AllowSharedBytes(Kernel kernel, size_t bytes) {
  if (bytes <= 48 * 1024) return "";
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(bytes));
  return err == cudaSuccess ? std::string() : std::string(cudaGetErrorString(err));
}

}  // namespace

std::string AttentionF32(const float* q, const float* k, const float* v, int64_t tq, int64_t tk,
                         int64_t hq, int64_t hkv, int64_t head_dim, const AttentionMask& mask,
                         float* out, void* stream) {
  if (tq <= 0 || hq <= 0 || head_dim <= 0) return "";
  if (tk < 0) return "AttentionF32: negative key count";
  std::string err = CheckShapes(tq, hq, hkv, head_dim);
  if (!err.empty()) return err;
  const size_t smem = SharedBytes(head_dim);
  err = AllowSharedBytes(AttentionKernel<float>, smem);
  if (!err.empty()) return err;
  AttentionKernel<float><<<static_cast<unsigned>(tq * hq), kThreads, smem,
                           static_cast<cudaStream_t>(stream)>>>(q, k, v, tk, hq, hkv, head_dim,
                                                                mask, out);
  return LaunchError();
}

std::string PagedAttentionF32(const float* q, const float* k_pool, const float* v_pool,
                              int64_t block_size, int64_t q_rows, int64_t hq, int64_t hkv,
                              int64_t head_dim, const PagedSeq* seqs, const int32_t* row_seq,
                              const int32_t* block_tables, float* out, void* stream) {
  if (q_rows <= 0 || hq <= 0 || head_dim <= 0) return "";
  if (block_size <= 0) return "PagedAttentionF32: block_size must be positive";
  std::string err = CheckShapes(q_rows, hq, hkv, head_dim);
  if (!err.empty()) return err;
  const size_t smem = SharedBytes(head_dim);
  err = AllowSharedBytes(PagedAttentionKernel<float>, smem);
  if (!err.empty()) return err;
  PagedAttentionKernel<float><<<static_cast<unsigned>(q_rows * hq), kThreads, smem,
                                static_cast<cudaStream_t>(stream)>>>(
      q, k_pool, v_pool, block_size, hq, hkv, head_dim, seqs, row_seq, block_tables, out);
  return LaunchError();
}

}  // namespace drivelm::kernels
