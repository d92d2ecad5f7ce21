#include "kernels/rms_norm.h"

#include <cuda_runtime.h>

namespace drivelm::kernels {
namespace {

// One block per row; each thread strides over the row, then a block reduction of sum(x^2).
template <int kThreads>
__global__ void RmsNormKernel(const float* __restrict__ x, const float* __restrict__ w, float eps,
                              float weight_offset, int64_t cols, float* __restrict__ y) {
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < cols; i += kThreads) sum += xr[i] * xr[i];
  __shared__ float warp_sums[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    sum = threadIdx.x < kThreads / 32 ? warp_sums[threadIdx.x] : 0.f;
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (threadIdx.x == 0) warp_sums[0] = sum;
  }
  __syncthreads();
  const float inv = rsqrtf(warp_sums[0] / static_cast<float>(cols) + eps);
  for (int64_t i = threadIdx.x; i < cols; i += kThreads) yr[i] = xr[i] * inv * (weight_offset + w[i]);
}

}  // namespace

std::string RmsNormF32(const float* x, const float* w, float eps, float weight_offset,
                       int64_t rows, int64_t cols, float* y, void* stream) {
  if (rows == 0) return "";
  constexpr int kThreads = 256;
  RmsNormKernel<kThreads><<<static_cast<unsigned>(rows), kThreads, 0,
                            static_cast<cudaStream_t>(stream)>>>(x, w, eps, weight_offset, cols, y);
  cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? std::string() : std::string(cudaGetErrorString(err));
}

}  // namespace drivelm::kernels
