// Non-overlapping patches on the GPU (the im2col of SigLIP's patch conv). Plain C++ header.
#ifndef DRIVELM_KERNELS_IM2PATCHES_H_
#define DRIVELM_KERNELS_IM2PATCHES_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// Device pointers. pixels [n, channels, height, width] -> y [n * (height / patch) *
// (width / patch), channels * patch * patch]: patches in row-major (py, px) order, each
// flattened as (c, ky, kx), matching a conv weight [out, c, patch, patch] viewed as
// [out, c * patch * patch]. height and width must be multiples of patch. `stream` is a
// cudaStream_t (nullptr: default). Returns "" on success, else the error text.
std::string Im2PatchesF32(const float* pixels, int64_t n, int64_t channels, int64_t height,
                          int64_t width, int64_t patch, float* y, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_IM2PATCHES_H_
