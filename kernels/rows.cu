#include "kernels/rows.h"

#include <cstdint>

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 128;

// One block per copied row; the row moves in words of type W (16, 4 or 1 bytes, the widest that
// the row size and both base addresses allow). kGather: the index picks the source row, else the
// destination row.
template <typename W, bool kGather>
__global__ void RowsKernel(const W* __restrict__ src, const int64_t* __restrict__ rows,
                           int64_t row_words, W* __restrict__ dst) {
  const int64_t i = blockIdx.x;
  const int64_t from = kGather ? rows[i] : i;
  const int64_t to = kGather ? i : rows[i];
  const W* s = src + from * row_words;
  W* d = dst + to * row_words;
  for (int64_t w = threadIdx.x; w < row_words; w += blockDim.x) d[w] = s[w];
}

template <bool kGather>
std::string LaunchRows(const void* src, const int64_t* rows, int64_t n, int64_t row_bytes,
                       void* dst, void* stream) {
  if (n <= 0 || row_bytes <= 0) return "";
  if (n > 0x7fffffff) return "GatherRows/ScatterRows: more than 2^31 - 1 rows";
  const uintptr_t align = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) |
                          static_cast<uintptr_t>(row_bytes);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = static_cast<unsigned>(n);
  if (align % 16 == 0) {
    RowsKernel<uint4, kGather><<<blocks, kThreads, 0, s>>>(
        static_cast<const uint4*>(src), rows, row_bytes / 16, static_cast<uint4*>(dst));
  } else if (align % 4 == 0) {
    RowsKernel<uint32_t, kGather><<<blocks, kThreads, 0, s>>>(
        static_cast<const uint32_t*>(src), rows, row_bytes / 4, static_cast<uint32_t*>(dst));
  } else {
    RowsKernel<unsigned char, kGather><<<blocks, kThreads, 0, s>>>(
        static_cast<const unsigned char*>(src), rows, row_bytes, static_cast<unsigned char*>(dst));
  }
  return LaunchError();
}

}  // namespace

std::string GatherRows(const void* src, const int64_t* rows, int64_t n, int64_t row_bytes,
                       void* dst, void* stream) {
  return LaunchRows<true>(src, rows, n, row_bytes, dst, stream);
}

std::string ScatterRows(const void* src, const int64_t* rows, int64_t n, int64_t row_bytes,
                        void* dst, void* stream) {
  return LaunchRows<false>(src, rows, n, row_bytes, dst, stream);
}

}  // namespace drivelm::kernels
