// GPU test: RmsNormF32 against a double-precision CPU loop. Tolerance: relative 1e-5 — both sides
// are fp32 with different summation orders over <= 4096 terms (error ~ sqrt(n) * 2^-24).
#include "kernels/rms_norm.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace drivelm::kernels {
namespace {

TEST(RmsNormF32, MatchesCpuReference) {
  int device_count = 0;
  if (cudaGetDeviceCount(&device_count) != cudaSuccess || device_count == 0) {
    GTEST_SKIP() << "no CUDA device";
  }
  for (int64_t cols : {1, 7, 256, 2048, 4096}) {
    const int64_t rows = 13;
    std::mt19937 rng(static_cast<unsigned>(cols));
    std::normal_distribution<float> dist(0.f, 2.f);
    std::vector<float> x(rows * cols), w(cols), y(rows * cols, NAN);
    for (auto& v : x) v = dist(rng);
    for (auto& v : w) v = dist(rng);
    float *dx, *dw, *dy;
    ASSERT_EQ(cudaMalloc(&dx, x.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dw, w.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, y.size() * 4), cudaSuccess);
    cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
    cudaMemset(dy, 0xff, y.size() * 4);  // poison: NaN everywhere
    ASSERT_EQ(RmsNormF32(dx, dw, 1e-6f, 1.0f, rows, cols, dy, nullptr), "");
    cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t c = 0; c < cols; ++c) ss += double(x[r * cols + c]) * x[r * cols + c];
      double inv = 1.0 / std::sqrt(ss / cols + 1e-6);
      for (int64_t c = 0; c < cols; ++c) {
        double ref = x[r * cols + c] * inv * (1.0 + w[c]);
        float got = y[r * cols + c];
        ASSERT_FALSE(std::isnan(got));
        ASSERT_NEAR(got, ref, 1e-5 * std::abs(ref) + 1e-6) << "row " << r << " col " << c;
      }
    }
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(dy);
  }
}

}  // namespace
}  // namespace drivelm::kernels
