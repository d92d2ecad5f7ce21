#include "kernels/embedding.h"

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 256;

// One block per id; threads stride over the row (coalesced). The product is rounded once, as
// CpuBackend's src * scale.
template <typename T>
__global__ void EmbedKernel(const T* __restrict__ table, const int32_t* __restrict__ ids,
                            int64_t hidden, float scale, T* __restrict__ y) {
  const int64_t r = blockIdx.x;
  const T* src = table + static_cast<int64_t>(ids[r]) * hidden;
  T* dst = y + r * hidden;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    dst[c] = FromF32<T>(__fmul_rn(ToF32(src[c]), scale));
  }
}

}  // namespace

std::string EmbedF32(const float* table, const int32_t* ids, int64_t n, int64_t hidden, float scale,
                     float* y, void* stream) {
  if (n <= 0 || hidden <= 0) return "";
  if (n > 0x7fffffff) return "EmbedF32: more than 2^31 - 1 ids";
  EmbedKernel<float><<<static_cast<unsigned>(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      table, ids, hidden, scale, y);
  return LaunchError();
}

}  // namespace drivelm::kernels
