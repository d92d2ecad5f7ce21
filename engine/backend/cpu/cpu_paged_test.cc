// Paged attention equals contiguous attention exactly: each sequence's keys and values are
// scattered into shuffled blocks of a pool, and PagedAttention over the block tables must give
// the same bits as Attention over the contiguous rows (the reference gathers, so no tolerance).
#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/backend/cpu/cpu_backend.h"

namespace drivelm::engine {
namespace {

Tensor Random(CpuBackend& b, const Shape& shape, std::mt19937& rng) {
  Tensor t = b.Empty(DType::kF32, shape);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = dist(rng);
  return t;
}

TEST(CpuPagedTest, ScatterThenGatherRoundTrips) {
  CpuBackend b(1);
  std::mt19937 rng(1);
  Tensor src = Random(b, {5, 3}, rng);
  Tensor pool = b.Empty(DType::kF32, {10, 3});
  std::vector<int64_t> rows = {7, 0, 9, 3, 4};
  b.ScatterRows(src, rows, &pool);
  Tensor back = b.Empty(DType::kF32, {5, 3});
  b.GatherRows(pool, rows, &back);
  for (int64_t i = 0; i < src.numel(); ++i) EXPECT_EQ(back.f32()[i], src.f32()[i]);
}

TEST(CpuPagedTest, PagedAttentionEqualsContiguousAttention) {
  CpuBackend b(2);
  std::mt19937 rng(7);
  const int64_t hq = 4, hkv = 2, d = 8, block = 4, num_blocks = 40;
  // (kv_len, q_len, prefix_len, sliding): a prefill, a decode step, a partial block, a chunk.
  struct Case { int64_t kv_len, q_len, prefix_len, window; };
  const std::vector<Case> cases = {{13, 13, 13, 0}, {21, 1, 17, 0}, {6, 2, 4, 3}, {30, 9, 5, 8}};
  int64_t total_q = 0;
  for (const Case& c : cases) total_q += c.q_len;
  Tensor q = Random(b, {total_q, hq, d}, rng);
  Tensor k_pool = b.Empty(DType::kF32, {num_blocks * block, hkv, d});
  Tensor v_pool = b.Empty(DType::kF32, {num_blocks * block, hkv, d});
  std::vector<int32_t> free_blocks(num_blocks);
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng);

  std::vector<std::vector<int32_t>> tables;
  std::vector<Tensor> ks, vs;
  std::vector<PagedSequence> seqs;
  int64_t q_begin = 0;
  for (const Case& c : cases) {
    std::vector<int32_t> table;
    for (int64_t i = 0; i < (c.kv_len + block - 1) / block; ++i) {
      table.push_back(free_blocks.back());
      free_blocks.pop_back();
    }
    Tensor k = Random(b, {c.kv_len, hkv, d}, rng);
    Tensor v = Random(b, {c.kv_len, hkv, d}, rng);
    std::vector<int64_t> rows;
    for (int64_t t = 0; t < c.kv_len; ++t) rows.push_back(table[t / block] * block + t % block);
    b.ScatterRows(k, rows, &k_pool);
    b.ScatterRows(v, rows, &v_pool);
    tables.push_back(table);
    ks.push_back(k);
    vs.push_back(v);
    PagedSequence s;
    s.q_begin = q_begin;
    s.q_len = c.q_len;
    s.kv_len = c.kv_len;
    s.params.scale = 0.35f;
    s.params.q_start = c.kv_len - c.q_len;
    s.params.prefix_len = c.prefix_len;
    s.params.sliding_window = c.window;
    seqs.push_back(s);
    q_begin += c.q_len;
  }
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i].block_table = tables[i];

  Tensor paged = b.Empty(DType::kF32, {total_q, hq, d});
  b.PagedAttention(q, k_pool, v_pool, block, seqs, &paged);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const PagedSequence& s = seqs[i];
    Tensor ref = b.Empty(DType::kF32, {s.q_len, hq, d});
    b.Attention(q.Rows(s.q_begin, s.q_begin + s.q_len), ks[i], vs[i], s.params, &ref);
    Tensor got = paged.Rows(s.q_begin, s.q_begin + s.q_len);
    for (int64_t j = 0; j < ref.numel(); ++j) {
      ASSERT_EQ(got.f32()[j], ref.f32()[j]) << "sequence " << i << " element " << j;
    }
  }
}

}  // namespace
}  // namespace drivelm::engine
