// Elementwise kernels on the GPU, fp32, matching CpuBackend's rounding step for step (products
// and sums rounded separately, the one fused multiply-add PyTorch has kept fused, tanh rounded
// from double), so the CUDA backend agrees with the CPU reference to about an ulp.
// Plain C++ header: no CUDA types cross it.
//
// All pointers are device pointers; n counts elements; `stream` is a cudaStream_t (nullptr: the
// default stream). Each function returns "" on success, else the CUDA error text of the launch.
// In-place forms may alias as documented; nothing else may alias.
#ifndef DRIVELM_KERNELS_ELEMENTWISE_H_
#define DRIVELM_KERNELS_ELEMENTWISE_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// y[i] += x[i % x_elems] for i < y_elems; y_elems % x_elems == 0 (x_elems == y_elems: a plain
// add; x_elems = a few rows of y's width: those rows repeated over y's rows).
std::string AddF32(float* y, const float* x, int64_t y_elems, int64_t x_elems, void* stream);

// y[i] *= s.
std::string ScaleF32(float* y, float s, int64_t n, void* stream);

// x[i] = gelu_tanh(x[i]) (PyTorch gelu(approximate="tanh")).
std::string GeluTanhF32(float* x, int64_t n, void* stream);

// y[i] = gelu_tanh(gate[i]) * up[i]. y may alias gate or up.
std::string GeluTanhMulF32(const float* gate, const float* up, float* y, int64_t n, void* stream);

// x[i] = cap * tanh(x[i] / cap) (Gemma-2 soft-capping), cap > 0.
std::string SoftCapF32(float* x, float cap, int64_t n, void* stream);

// y[r, :] = row[:] for r < rows: the bias as the GEMM's C operand (Linear).
std::string BroadcastRowsF32(const float* row, int64_t rows, int64_t cols, float* y, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_ELEMENTWISE_H_
