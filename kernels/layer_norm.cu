#include "kernels/layer_norm.h"

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 256;

// One block per row. Two passes over the row in float (mean, then the sum of squared deviations:
// the two-pass form does not cancel the way E[x^2] - mean^2 does), then
// y = fma((x - mean) * rstd, w, b) with rstd = 1 / sqrt(var + eps), as torch's CPU kernel and
// CpuBackend round it. No __restrict__ on x / y: they may alias. Every write comes after both
// reductions, and element i is read and written by the same thread.
template <typename T>
__global__ void LayerNormKernel(const T* x, const T* w, const T* b, float eps, int64_t cols, T* y) {
  __shared__ float scratch[32];
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * cols;
  T* yr = y + static_cast<int64_t>(blockIdx.x) * cols;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += ToF32(xr[i]);
  const float mean = BlockSum(sum, scratch) / static_cast<float>(cols);
  float m2 = 0.f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float d = ToF32(xr[i]) - mean;
    m2 += d * d;
  }
  const float var = BlockSum(m2, scratch) / static_cast<float>(cols);
  const float rstd = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, eps)));
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float centered = __fmul_rn(__fsub_rn(ToF32(xr[i]), mean), rstd);
    yr[i] = FromF32<T>(__fmaf_rn(centered, ToF32(w[i]), ToF32(b[i])));
  }
}

}  // namespace

std::string LayerNormF32(const float* x, const float* w, const float* b, float eps, int64_t rows,
                         int64_t cols, float* y, void* stream) {
  if (rows <= 0 || cols <= 0) return "";
  if (rows > 0x7fffffff) return "LayerNormF32: more than 2^31 - 1 rows";
  LayerNormKernel<float><<<static_cast<unsigned>(rows), kThreads, 0,
                           static_cast<cudaStream_t>(stream)>>>(x, w, b, eps, cols, y);
  return LaunchError();
}

}  // namespace drivelm::kernels
