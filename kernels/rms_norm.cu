#include "kernels/rms_norm.h"

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 256;

// One block per row; each thread strides over the row, then a block reduction of sum(x^2).
// The steps are rounded as CpuBackend (and the separate PyTorch ops) round them:
// rstd = 1 / sqrt(mean(x^2) + eps), then (x * rstd) * (weight_offset + w).
// No __restrict__ on x / y: the models normalize in place (y == x). Every write comes after the
// reduction, and element i is read and written by the same thread.
template <typename T>
__global__ void RmsNormKernel(const T* x, const T* w, float eps, float weight_offset, int64_t cols,
                              T* y) {
  __shared__ float scratch[32];
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * cols;
  T* yr = y + static_cast<int64_t>(blockIdx.x) * cols;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float v = ToF32(xr[i]);
    sum += v * v;
  }
  const float mean = BlockSum(sum, scratch) / static_cast<float>(cols);
  const float rstd = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float scale = __fadd_rn(weight_offset, ToF32(w[i]));
    yr[i] = FromF32<T>(__fmul_rn(__fmul_rn(ToF32(xr[i]), rstd), scale));
  }
}

}  // namespace

std::string RmsNormF32(const float* x, const float* w, float eps, float weight_offset,
                       int64_t rows, int64_t cols, float* y, void* stream) {
  if (rows <= 0 || cols <= 0) return "";
  if (rows > 0x7fffffff) return "RmsNormF32: more than 2^31 - 1 rows";
  RmsNormKernel<float><<<static_cast<unsigned>(rows), kThreads, 0,
                         static_cast<cudaStream_t>(stream)>>>(x, w, eps, weight_offset, cols, y);
  return LaunchError();
}

}  // namespace drivelm::kernels
