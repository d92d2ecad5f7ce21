// CpuBackend's paged-KV ops: row scatter/gather and attention over block tables. The reference
// implementation gathers each sequence's keys and values into contiguous scratch and reuses the
// contiguous Attention, so paged and contiguous attention agree exactly.
#include <cassert>
#include <cstring>

#include "engine/backend/cpu/cpu_backend.h"

namespace drivelm::engine {

void CpuBackend::ScatterRows(const Tensor& src, absl::Span<const int64_t> dst_rows, Tensor* dst) {
  assert(src.dtype() == dst->dtype() && src.row_elems() == dst->row_elems());
  assert(static_cast<int64_t>(dst_rows.size()) == src.dim(0));
  const size_t row_bytes = static_cast<size_t>(src.row_elems()) * DTypeSize(src.dtype());
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst->data());
  for (size_t i = 0; i < dst_rows.size(); ++i) {
    assert(dst_rows[i] >= 0 && dst_rows[i] < dst->dim(0));
    std::memcpy(d + dst_rows[i] * row_bytes, s + i * row_bytes, row_bytes);
  }
}

void CpuBackend::GatherRows(const Tensor& src, absl::Span<const int64_t> src_rows, Tensor* dst) {
  assert(src.dtype() == dst->dtype() && src.row_elems() == dst->row_elems());
  assert(static_cast<int64_t>(src_rows.size()) == dst->dim(0));
  const size_t row_bytes = static_cast<size_t>(src.row_elems()) * DTypeSize(src.dtype());
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst->data());
  for (size_t i = 0; i < src_rows.size(); ++i) {
    assert(src_rows[i] >= 0 && src_rows[i] < src.dim(0));
    std::memcpy(d + i * row_bytes, s + src_rows[i] * row_bytes, row_bytes);
  }
}

void CpuBackend::PagedAttention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                                int64_t block_size, absl::Span<const PagedSequence> seqs,
                                Tensor* out) {
  const int64_t hkv = k_pool.dim(1);
  const int64_t d = k_pool.dim(2);
  for (const PagedSequence& s : seqs) {
    if (s.q_len == 0) continue;
    assert(static_cast<int64_t>(s.block_table.size()) * block_size >= s.kv_len);
    std::vector<int64_t> rows(static_cast<size_t>(s.kv_len));
    for (int64_t t = 0; t < s.kv_len; ++t) {
      rows[t] = static_cast<int64_t>(s.block_table[t / block_size]) * block_size + t % block_size;
    }
    Tensor k = Empty(k_pool.dtype(), {s.kv_len, hkv, d});  // [kv_len, hkv, d]
    Tensor v = Empty(v_pool.dtype(), {s.kv_len, hkv, d});
    GatherRows(k_pool, rows, &k);
    GatherRows(v_pool, rows, &v);
    Tensor qs = q.Rows(s.q_begin, s.q_begin + s.q_len);
    Tensor os = out->Rows(s.q_begin, s.q_begin + s.q_len);
    Attention(qs, k, v, s.params, &os);
  }
}

}  // namespace drivelm::engine
