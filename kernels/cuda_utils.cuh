// Device-side helpers shared by the kernels in this directory (included by .cu files only; the
// public headers stay plain C++).
//
// - LaunchError(): the error of the last launch as text ("" = success), the kernels' host API
//   convention (see rms_norm.h).
// - ToF32 / FromF32<T>: element loads and stores for the element types the kernels are written
//   for. Only float is instantiated today; bf16 / fp16 activations are the follow-up (the math
//   is always done in float, so a bf16 instantiation is a template argument away).
// - BlockSum: a deterministic block-wide float sum.
#ifndef DRIVELM_KERNELS_CUDA_UTILS_CUH_
#define DRIVELM_KERNELS_CUDA_UTILS_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace drivelm::kernels {

inline std::string LaunchError() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? std::string() : std::string(cudaGetErrorString(err));
}

// Blocks for a grid-stride loop over n items: enough to fill any current GPU, never more than
// the items need (at least 1 so that a launch over zero items is still valid).
inline unsigned GridFor(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > (int64_t{1} << 20)) blocks = int64_t{1} << 20;
  return static_cast<unsigned>(blocks);
}

__device__ __forceinline__ float ToF32(float v) { return v; }
__device__ __forceinline__ float ToF32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float ToF32(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T FromF32(float v);
template <>
__device__ __forceinline__ float FromF32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromF32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half FromF32<__half>(float v) {
  return __float2half_rn(v);
}

// Sum of v over the block. blockDim.x must be a multiple of 32 and <= 1024; `scratch` holds 32
// floats of shared memory. Every thread returns the same value (each adds the warp partials in
// the same order), and the leading barrier makes back-to-back calls on one scratch safe.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  __syncthreads();  // a previous call may still be reading scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < warps; ++w) total += scratch[w];
  return total;
}

// tanh rounded to float through double: on the fp32 reference path this matches the CPU
// backend's correctly rounded TanhF (double tanh on the device is within 2 double ulps, so the
// float rounding agrees except on exact near-ties). A bf16 path would use tanhf.
__device__ __forceinline__ float TanhViaDouble(float x) {
  return static_cast<float>(tanh(static_cast<double>(x)));
}

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_CUDA_UTILS_CUH_
