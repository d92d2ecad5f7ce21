#include "kernels/linear.h"

#include <cublas_v2.h>

#include <climits>
#include <string>

#include "kernels/cuda_utils.cuh"
#include "kernels/elementwise.h"

namespace drivelm::kernels {
namespace {

std::string CublasError(const char* what, cublasStatus_t status) {
  return std::string(what) + ": " + cublasGetStatusString(status);
}

}  // namespace

std::string CreateCublasHandle(void* stream, void** handle) {
  cublasHandle_t h = nullptr;
  cublasStatus_t st = cublasCreate(&h);
  if (st != CUBLAS_STATUS_SUCCESS) return CublasError("cublasCreate", st);
  st = cublasSetStream(h, static_cast<cudaStream_t>(stream));
  // CUBLAS_DEFAULT_MATH: fp32 GEMMs stay fp32 (TF32 only with CUBLAS_TF32_TENSOR_OP_MATH).
  if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
  if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST);
  if (st != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(h);
    return CublasError("cublas handle setup", st);
  }
  *handle = h;
  return "";
}

void DestroyCublasHandle(void* handle) {
  if (handle != nullptr) cublasDestroy(static_cast<cublasHandle_t>(handle));
}

std::string LinearF32(void* cublas_handle, const float* x, const float* w, const float* bias,
                      int64_t m, int64_t n, int64_t k, float* y) {
  if (m <= 0 || n <= 0) return "";
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return "LinearF32: a dimension exceeds INT_MAX";
  cublasHandle_t h = static_cast<cublasHandle_t>(cublas_handle);
  cudaStream_t stream = nullptr;
  cublasStatus_t st = cublasGetStream(h, &stream);
  if (st != CUBLAS_STATUS_SUCCESS) return CublasError("cublasGetStream", st);
  // torch.nn.Linear with a bias is addmm: the bias rows are the GEMM's C with beta = 1.
  float beta = 0.0f;
  if (bias != nullptr) {
    const std::string err = BroadcastRowsF32(bias, m, n, y, stream);
    if (!err.empty()) return err;
    beta = 1.0f;
  }
  if (k == 0) {
    if (bias != nullptr) return "";
    const cudaError_t err =
        cudaMemsetAsync(y, 0, static_cast<size_t>(m) * static_cast<size_t>(n) * sizeof(float), stream);
    return err == cudaSuccess ? std::string() : std::string(cudaGetErrorString(err));
  }
  // Row-major y [m, n] is column-major y^T [n, m]: y^T = w . x^T, with w row-major [n, k] read as
  // column-major [k, n] and transposed (OP_T, ld k), x row-major [m, k] read as column-major
  // [k, m] (OP_N, ld k).
  const float alpha = 1.0f;
  st = cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                   static_cast<int>(k), &alpha, w, static_cast<int>(k), x, static_cast<int>(k),
                   &beta, y, static_cast<int>(n));
  if (st != CUBLAS_STATUS_SUCCESS) return CublasError("cublasSgemm", st);
  return LaunchError();
}

}  // namespace drivelm::kernels
