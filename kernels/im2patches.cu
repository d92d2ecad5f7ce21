#include "kernels/im2patches.h"

#include "kernels/cuda_utils.cuh"

namespace drivelm::kernels {
namespace {

constexpr int kThreads = 256;

// One thread per output element (grid-stride): consecutive threads write consecutive outputs,
// and runs of `patch` of them read consecutive pixels.
template <typename T>
__global__ void Im2PatchesKernel(const T* __restrict__ pixels, int64_t channels, int64_t height,
                                 int64_t width, int64_t patch, int64_t total, T* __restrict__ y) {
  const int64_t ph = height / patch, pw = width / patch;
  const int64_t pp = patch * patch;
  const int64_t cols = channels * pp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += stride) {
    const int64_t r = o / cols, col = o % cols;
    const int64_t img = r / (ph * pw), py = (r / pw) % ph, px = r % pw;
    const int64_t ch = col / pp, ky = (col / patch) % patch, kx = col % patch;
    y[o] = pixels[((img * channels + ch) * height + py * patch + ky) * width + px * patch + kx];
  }
}

}  // namespace

std::string Im2PatchesF32(const float* pixels, int64_t n, int64_t channels, int64_t height,
                          int64_t width, int64_t patch, float* y, void* stream) {
  if (patch <= 0 || height % patch != 0 || width % patch != 0) {
    return "Im2PatchesF32: height and width must be positive multiples of patch";
  }
  const int64_t total = n * channels * height * width;
  if (total <= 0) return "";
  Im2PatchesKernel<float><<<GridFor(total, kThreads), kThreads, 0,
                            static_cast<cudaStream_t>(stream)>>>(pixels, channels, height, width,
                                                                 patch, total, y);
  return LaunchError();
}

}  // namespace drivelm::kernels
