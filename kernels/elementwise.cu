#include "kernels/elementwise.h"

#include <cmath>

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 256;

// The rounding of each step is written out with __fmul_rn / __fadd_rn: nvcc would otherwise
// contract a * b + c into one FMA, which rounds differently from the CPU reference.

template <typename T>
__global__ void AddKernel(T* y, const T* x, int64_t y_elems, int64_t x_elems) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const bool same = x_elems == y_elems;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < y_elems;
       i += stride) {
    const int64_t j = same ? i : i % x_elems;
    y[i] = FromF32<T>(__fadd_rn(ToF32(y[i]), ToF32(x[j])));
  }
}

template <typename T>
__global__ void ScaleKernel(T* y, float s, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = FromF32<T>(__fmul_rn(ToF32(y[i]), s));
  }
}

// torch gelu(approximate="tanh") on the CPU (CpuBackend::GeluTanhScalar): inner = kBeta *
// fma(kKappa, x^3, x); 0.5 * x * (1 + tanh(inner)), each other step rounded to float.
__device__ __forceinline__ float GeluTanhScalar(float x) {
  constexpr float kBeta = static_cast<float>(M_SQRT2 * M_2_SQRTPI * 0.5);
  constexpr float kKappa = 0.044715f;
  const float x_cube = __fmul_rn(__fmul_rn(x, x), x);
  const float inner = __fmul_rn(kBeta, __fmaf_rn(kKappa, x_cube, x));
  return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, TanhViaDouble(inner)));
}

template <typename T>
__global__ void GeluTanhKernel(T* x, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    x[i] = FromF32<T>(GeluTanhScalar(ToF32(x[i])));
  }
}

// No __restrict__: y may alias gate or up (element i is read before it is written, by the same
// thread).
template <typename T>
__global__ void GeluTanhMulKernel(const T* gate, const T* up, T* y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float g = ToF32(gate[i]);
    const float u = ToF32(up[i]);
    y[i] = FromF32<T>(__fmul_rn(GeluTanhScalar(g), u));
  }
}

// transformers: logits / cap (a division), tanh, * cap.
template <typename T>
__global__ void SoftCapKernel(T* x, float cap, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    x[i] = FromF32<T>(__fmul_rn(TanhViaDouble(__fdiv_rn(ToF32(x[i]), cap)), cap));
  }
}

template <typename T>
__global__ void BroadcastRowsKernel(const T* __restrict__ row, int64_t rows, int64_t cols,
                                    T* __restrict__ y) {
  const int64_t n = rows * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = row[i % cols];
  }
}

}  // namespace

std::string AddF32(float* y, const float* x, int64_t y_elems, int64_t x_elems, void* stream) {
  if (y_elems <= 0) return "";
  if (x_elems <= 0 || y_elems % x_elems != 0) return "AddF32: y_elems is not a multiple of x_elems";
  AddKernel<float><<<GridFor(y_elems, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      y, x, y_elems, x_elems);
  return LaunchError();
}

std::string ScaleF32(float* y, float s, int64_t n, void* stream) {
  if (n <= 0) return "";
  ScaleKernel<float><<<GridFor(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      y, s, n);
  return LaunchError();
}

std::string GeluTanhF32(float* x, int64_t n, void* stream) {
  if (n <= 0) return "";
  GeluTanhKernel<float><<<GridFor(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, n);
  return LaunchError();
}

std::string GeluTanhMulF32(const float* gate, const float* up, float* y, int64_t n, void* stream) {
  if (n <= 0) return "";
  GeluTanhMulKernel<float>
      <<<GridFor(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(gate, up, y, n);
  return LaunchError();
}

std::string SoftCapF32(float* x, float cap, int64_t n, void* stream) {
  if (n <= 0) return "";
  if (!(cap > 0.0f)) return "SoftCapF32: cap must be > 0";
  SoftCapKernel<float><<<GridFor(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, cap, n);
  return LaunchError();
}

std::string BroadcastRowsF32(const float* row, int64_t rows, int64_t cols, float* y, void* stream) {
  if (rows <= 0 || cols <= 0) return "";
  BroadcastRowsKernel<float><<<GridFor(rows * cols, kThreads), kThreads, 0,
                               static_cast<cudaStream_t>(stream)>>>(row, rows, cols, y);
  return LaunchError();
}

}  // namespace drivelm::kernels
