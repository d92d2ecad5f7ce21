// Attention on the GPU, fp32: softmax(mask(q . k^T * scale)) . v with grouped / multi-query heads,
// for contiguous keys (prefill, SigLIP) and for keys in a paged KV pool (the scheduler's batches).
// Plain C++ header: no CUDA types cross it.
//
// This is the straightforward correct kernel: one thread block per (query row, head), keys in
// tiles of 64 with an online (running max) softmax, so any number of keys fits in a few KB of
// shared memory. It reads each key and value once per query head, which is fine for checking
// correctness and far from the hardware limit; flash-attention tiling (many query rows per block,
// K/V tiles shared by the heads of a KV group, tensor cores, a split along the keys for decode)
// is the optimization for a GPU session (kernels/README.md).
#ifndef DRIVELM_KERNELS_ATTENTION_H_
#define DRIVELM_KERNELS_ATTENTION_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// The mask of engine::AttentionParams (engine/backend/backend.h), repeated here so that kernels/
// depends on nothing. Query row i sits at position q_start + i, key j at position j; key j is
// visible to the query at position p iff
//   (j < prefix_len || (causal && j <= p) || !causal) && (sliding_window <= 0 || p - j < window)
// i.e. the keys [lo, hi) with lo = sliding_window > 0 ? p - sliding_window + 1 : 0 and
// hi = causal ? max(prefix_len, p + 1) : all keys. A query with no visible key gets zeros.
struct AttentionMask {
  float scale = 1.0f;          // multiplies q . k
  float softcap = 0.0f;        // > 0: score = softcap * tanh(score / softcap)
  bool causal = true;
  int64_t q_start = 0;
  int64_t prefix_len = 0;
  int64_t sliding_window = 0;
};

// Device pointers. q, out [tq, hq, head_dim]; k, v [tk, hkv, head_dim]; hq % hkv == 0 (head h
// reads KV head h / (hq / hkv)); head_dim <= 4096. tk may be 0 (then out is zeros). `stream` is a
// cudaStream_t (nullptr: default). Returns "" on success, else the error text.
std::string AttentionF32(const float* q, const float* k, const float* v, int64_t tq, int64_t tk,
                         int64_t hq, int64_t hkv, int64_t head_dim, const AttentionMask& mask,
                         float* out, void* stream);

// One sequence of a paged call (an array of these lives in device memory). Its query rows are
// q[q_begin, q_begin + q_len); its key/value token t (t < kv_len) is pool row
// block_tables[table_offset + t / block_size] * block_size + t % block_size. mask.q_start etc.
// are in the sequence's own positions.
struct PagedSeq {
  int64_t q_begin = 0;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  int64_t table_offset = 0;
  AttentionMask mask;
};

// Device pointers. q, out [q_rows, hq, head_dim]; k_pool, v_pool [pool_rows, hkv, head_dim];
// seqs: the sequences; row_seq [q_rows]: the index into seqs of each query row, or -1 for a row
// no sequence owns (its out row is left untouched); block_tables: every sequence's table, each
// at its table_offset. Returns "" on success, else the error text.
std::string PagedAttentionF32(const float* q, const float* k_pool, const float* v_pool,
                              int64_t block_size, int64_t q_rows, int64_t hq, int64_t hkv,
                              int64_t head_dim, const PagedSeq* seqs, const int32_t* row_seq,
                              const int32_t* block_tables, float* out, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_ATTENTION_H_
