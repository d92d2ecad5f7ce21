#include "kernels/rope.h"

#include <cmath>

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 128;

// One block per token; thread k handles frequency k (strided) for every head, so each cos/sin is
// computed once per token. The angle is the float product position * inv_freq (as transformers'
// float matmul of inv_freq and positions); cos and sin of that float are evaluated in double and
// rounded (correctly rounded, as CpuBackend does); the rotation rounds each product and sum:
//   x1' = x1 * cos + (-x2) * sin,   x2' = x2 * cos + x1 * sin.
template <typename T>
__global__ void RopeKernel(T* x, const int32_t* __restrict__ positions,
                           const float* __restrict__ inv_freq, int64_t heads, int64_t head_dim) {
  const int64_t t = blockIdx.x;
  const int64_t half = head_dim / 2;
  const float pos = static_cast<float>(positions[t]);
  T* token = x + t * heads * head_dim;
  for (int64_t k = threadIdx.x; k < half; k += blockDim.x) {
    const float angle = __fmul_rn(pos, inv_freq[k]);
    double s_d, c_d;
    sincos(static_cast<double>(angle), &s_d, &c_d);
    const float c = static_cast<float>(c_d);
    const float s = static_cast<float>(s_d);
    for (int64_t h = 0; h < heads; ++h) {
      T* row = token + h * head_dim;
      const float x1 = ToF32(row[k]);
      const float x2 = ToF32(row[k + half]);
      row[k] = FromF32<T>(__fadd_rn(__fmul_rn(x1, c), __fmul_rn(-x2, s)));
      row[k + half] = FromF32<T>(__fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s)));
    }
  }
}

}  // namespace

std::vector<float> RopeInvFreq(float theta, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half > 0 ? half : 0));
  for (int64_t k = 0; k < half; ++k) {
    const float exponent = static_cast<float>(2 * k) / static_cast<float>(head_dim);
    const float p =
        static_cast<float>(std::pow(static_cast<double>(theta), static_cast<double>(exponent)));
    inv_freq[static_cast<size_t>(k)] = 1.0f / p;
  }
  return inv_freq;
}

std::string RopeF32(float* x, const int32_t* positions, const float* inv_freq, int64_t tokens,
                    int64_t heads, int64_t head_dim, void* stream) {
  if (head_dim % 2 != 0) return "RopeF32: head_dim must be even";
  if (tokens <= 0 || heads <= 0 || head_dim == 0) return "";
  if (tokens > 0x7fffffff) return "RopeF32: more than 2^31 - 1 tokens";
  RopeKernel<float><<<static_cast<unsigned>(tokens), kThreads, 0,
                      static_cast<cudaStream_t>(stream)>>>(x, positions, inv_freq, heads, head_dim);
  return LaunchError();
}

}  // namespace drivelm::kernels
