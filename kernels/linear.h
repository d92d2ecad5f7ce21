// y = x . w^T (+ bias) on the GPU through cuBLAS (torch.nn.Linear's layout), fp32. Plain C++
// header: the cuBLAS handle crosses it as void*.
//
// Today: cublasSgemm in CUBLAS_DEFAULT_MATH (true fp32, no TF32), which is what the fp32
// reference path needs. The follow-up is cuBLASLt with bf16 operands, fp32 accumulation, the
// algorithm picked once per shape and cached, and the bias as an epilogue (kernels/README.md).
#ifndef DRIVELM_KERNELS_LINEAR_H_
#define DRIVELM_KERNELS_LINEAR_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// A cuBLAS handle bound to `stream` (a cudaStream_t; nullptr: default) with the fp32 math mode
// this file relies on. *handle receives a cublasHandle_t. Returns "" on success.
std::string CreateCublasHandle(void* stream, void** handle);
void DestroyCublasHandle(void* handle);

// Device pointers. x [m, k], w [n, k], bias [n] or nullptr, y [m, n], all row-major; y must not
// alias x, w or bias. k may be 0 (y = bias, or zeros). Runs on the handle's stream. Returns ""
// on success, else the cuBLAS / CUDA error.
std::string LinearF32(void* cublas_handle, const float* x, const float* w, const float* bias,
                      int64_t m, int64_t n, int64_t k, float* y);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_LINEAR_H_
