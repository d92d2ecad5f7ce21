// SequenceKvCache: the keys and values of one sequence, contiguous per layer. The reference
// layout for a single request; the paged KvCacheManager of the scheduler replaces it for batches.
#ifndef DRIVELM_ENGINE_MODEL_KV_CACHE_H_
#define DRIVELM_ENGINE_MODEL_KV_CACHE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/backend.h"

namespace drivelm::engine {

class SequenceKvCache {
 public:
  // Allocates num_layers x {k, v} of [capacity, kv_heads, head_dim] on `backend` (F32).
  SequenceKvCache(Backend* backend, int64_t num_layers, int64_t capacity, int64_t kv_heads,
                  int64_t head_dim);

  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }
  // Tokens [0, length) hold valid keys and values.
  void set_length(int64_t n) { length_ = n; }
  // Whether `n` more tokens fit: check before a forward (decide, then mutate).
  bool CanAppend(int64_t n) const { return length_ + n <= capacity_; }
  // Tokens [0, prefix_len) form the bidirectional prefix (PaliGemma's prefill).
  int64_t prefix_len() const { return prefix_len_; }
  void set_prefix_len(int64_t n) { prefix_len_ = n; }

  Tensor& k(int64_t layer) { return k_[layer]; }  // [capacity, kv_heads, head_dim]
  Tensor& v(int64_t layer) { return v_[layer]; }  // [capacity, kv_heads, head_dim]

 private:
  int64_t capacity_;
  int64_t length_ = 0;
  int64_t prefix_len_ = 0;
  std::vector<Tensor> k_, v_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_KV_CACHE_H_
