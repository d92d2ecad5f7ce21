// Backend: memory and the ops the models need, nothing more. CpuBackend (backend/cpu/) is the
// reference every other backend is tested against; CudaBackend implements the same interface
// with kernels/ and cuBLASLt.
//
// Conventions for every op:
// - Tensors are contiguous and row-major; a [tokens, heads, head_dim] tensor is laid out as
//   tokens x heads x head_dim.
// - Activations are F32 on the CPU backend (a device backend may use BF16/F16 activations; ops
//   then accumulate in F32). Weights are whatever Upload() made of them.
// - Output tensors are allocated by the caller with the documented shape; an op may write its
//   output in place only where it says so.
// - Shapes are checked with assert(): a mismatch is a bug in the model code, never a user error.
//   User input is validated before it reaches a backend.
#ifndef DRIVELM_ENGINE_BACKEND_BACKEND_H_
#define DRIVELM_ENGINE_BACKEND_BACKEND_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "engine/backend/tensor.h"

namespace drivelm::engine {

// Which keys a query may attend to. Query row i sits at absolute sequence position
// q_start + i; key row j sits at absolute position j (keys always start at position 0).
// Key j is visible to a query at position p iff
//   (j < prefix_len || (causal && j <= p) || !causal)          -- prefix-LM / causal / full
//   && (sliding_window <= 0 || p - j < sliding_window)        -- Gemma-2 local layers
// Non-causal (causal = false) means every key is visible (SigLIP); prefix_len then is ignored.
// PaliGemma: prefix_len = length of images + bos + prompt + "\n" (bidirectional), generated
// tokens are causal.
struct AttentionParams {
  float scale = 1.0f;           // multiplies q.k before softmax
  float softcap = 0.0f;         // > 0: score = softcap * tanh(score / softcap) (Gemma-2)
  bool causal = true;
  int64_t q_start = 0;          // absolute position of query row 0
  int64_t prefix_len = 0;       // keys [0, prefix_len) are visible to every query
  int64_t sliding_window = 0;   // > 0: only keys with p - j < sliding_window are visible
};

// One sequence's share of a batched attention call over a paged KV pool (the scheduler's
// batches). Its query rows are q[q_begin, q_begin + q_len); its keys and values are token
// positions [0, kv_len) of the sequence, token t stored at pool row
// block_table[t / block_size] * block_size + t % block_size.
struct PagedSequence {
  int64_t q_begin = 0;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  absl::Span<const int32_t> block_table;  // covers [0, kv_len); not owned
  AttentionParams params;                 // q_start, prefix_len, ... in sequence positions
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- Memory ----
  // Uninitialized tensor of `dtype` and `shape` on this backend.
  virtual Tensor Empty(DType dtype, const Shape& shape) = 0;
  // Copies host data of `dtype` into a new tensor. The backend may store it in another dtype
  // (the CPU backend widens F16/BF16 weights to F32 once, here), so callers read the result's
  // dtype() rather than assume.
  virtual Tensor Upload(DType dtype, const Shape& shape, const void* host) = 0;
  // Copies `t` to host memory as F32 (F16/BF16 are widened); `host` has t.numel() floats.
  virtual void DownloadF32(const Tensor& t, float* host) = 0;
  // dst rows [dst_row, dst_row + src.dim(0)) = src. Same dtype and row size.
  virtual void CopyRows(const Tensor& src, Tensor* dst, int64_t dst_row) = 0;

  // ---- Dense ----
  // y[m, n] = x[m, k] . w[n, k]^T (+ bias[n]): torch.nn.Linear's layout. bias may be null.
  virtual void Linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) = 0;

  // ---- Elementwise / normalization ----
  // y += x, same shape; or, when x has fewer rows than y and y.dim(0) % x.dim(0) == 0, x is
  // repeated over y's rows (position embeddings added to every image of a batch).
  virtual void AddInPlace(Tensor* y, const Tensor& x) = 0;
  virtual void ScaleInPlace(Tensor* y, float s) = 0;
  // Per row of x [m, n]: y = x * rsqrt(mean(x^2) + eps) * (weight_offset + w), in F32.
  // Gemma uses weight_offset = 1 ("(1 + w)"). y may alias x.
  virtual void RmsNorm(const Tensor& x, const Tensor& w, float eps, float weight_offset,
                       Tensor* y) = 0;
  // Per row of x [m, n]: y = (x - mean) / sqrt(var + eps) * w + b (biased variance). y may
  // alias x.
  virtual void LayerNorm(const Tensor& x, const Tensor& w, const Tensor& b, float eps,
                         Tensor* y) = 0;
  // x = gelu_tanh(x) in place (PyTorch gelu(approximate="tanh")).
  virtual void GeluTanh(Tensor* x) = 0;
  // y = gelu_tanh(gate) * up; all [m, n]. y may alias gate or up.
  virtual void GeluTanhMul(const Tensor& gate, const Tensor& up, Tensor* y) = 0;
  // x = cap * tanh(x / cap) in place (Gemma-2 final logit soft-capping).
  virtual void SoftCapInPlace(Tensor* x, float cap) = 0;

  // ---- Transformer pieces ----
  // y[i] = table[ids[i]] * scale. table [vocab, hidden]; y [ids.size(), hidden]. Ids are
  // validated by the caller (0 <= id < vocab).
  virtual void Embed(const Tensor& table, absl::Span<const int32_t> ids, float scale,
                     Tensor* y) = 0;
  // Rotary embedding, rotate_half convention (HF Llama/Gemma), in place on x
  // [tokens, heads, head_dim]; token i is rotated by angle positions[i] * theta^(-2k/head_dim).
  virtual void Rope(Tensor* x, absl::Span<const int32_t> positions, float theta) = 0;
  // out[tq, hq, d] = softmax(mask(q . k^T * scale)) . v with q [tq, hq, d], k and v [tk, hkv, d];
  // hq % hkv == 0 (grouped / multi-query: head h reads kv head h / (hq / hkv)). The mask is
  // described by `p`. A query with no visible key gets zeros.
  virtual void Attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const AttentionParams& p, Tensor* out) = 0;
  // ---- Paged KV ----
  // dst rows dst_rows[i] = src row i (the new keys/values of a step into the pool). Same dtype
  // and row size; dst_rows are distinct.
  virtual void ScatterRows(const Tensor& src, absl::Span<const int64_t> dst_rows, Tensor* dst) = 0;
  // dst row i = src row src_rows[i] (e.g. the last token of each sequence before the LM head).
  virtual void GatherRows(const Tensor& src, absl::Span<const int64_t> src_rows, Tensor* dst) = 0;
  // Attention for several sequences at once: for each sequence s, out rows of s =
  // Attention(q rows of s, its keys and values gathered from the pools, s.params).
  // q, out [T, hq, d]; k_pool, v_pool [num_blocks * block_size, hkv, d].
  virtual void PagedAttention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                              int64_t block_size, absl::Span<const PagedSequence> seqs,
                              Tensor* out) = 0;

  // Non-overlapping patches, the im2col of a conv with kernel = stride = patch:
  // pixels [n, channels, H, W] -> y [n * (H / patch) * (W / patch), channels * patch * patch],
  // patches in row-major (py, px) order, each patch flattened as (c, ky, kx) to match a conv
  // weight [out, channels, patch, patch] viewed as [out, channels * patch * patch].
  virtual void Im2Patches(const Tensor& pixels, int patch, Tensor* y) = 0;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_BACKEND_BACKEND_H_
