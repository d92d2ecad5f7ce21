// Gemma-style RMSNorm on the GPU: y = x * rsqrt(mean(x^2) + eps) * (weight_offset + w), per row,
// fp32 accumulation. Plain C++ header: no CUDA types cross it.
#ifndef DRIVELM_KERNELS_RMS_NORM_H_
#define DRIVELM_KERNELS_RMS_NORM_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// Device pointers. x, y [rows, cols] (y may alias x); w [cols]. `stream` is a cudaStream_t
// (nullptr: default). Returns an empty string on success, else the CUDA error text.
std::string RmsNormF32(const float* x, const float* w, float eps, float weight_offset,
                       int64_t rows, int64_t cols, float* y, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_RMS_NORM_H_
