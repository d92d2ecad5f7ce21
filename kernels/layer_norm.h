// LayerNorm on the GPU (SigLIP): y = (x - mean) / sqrt(var + eps) * w + b per row, biased
// variance, fp32 accumulation. Plain C++ header: no CUDA types cross it.
#ifndef DRIVELM_KERNELS_LAYER_NORM_H_
#define DRIVELM_KERNELS_LAYER_NORM_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// Device pointers. x, y [rows, cols]; w, b [cols]. y may alias x. `stream` is a cudaStream_t
// (nullptr: default). Returns "" on success, else the CUDA error text.
std::string LayerNormF32(const float* x, const float* w, const float* b, float eps, int64_t rows,
                         int64_t cols, float* y, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_LAYER_NORM_H_
