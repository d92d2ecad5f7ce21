// Embedding gather with scaling on the GPU: y[i] = table[ids[i]] * scale. Plain C++ header.
#ifndef DRIVELM_KERNELS_EMBEDDING_H_
#define DRIVELM_KERNELS_EMBEDDING_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// Device pointers. table [vocab, hidden]; ids [n] (validated by the caller: 0 <= id < vocab);
// y [n, hidden]. `stream` is a cudaStream_t (nullptr: default). Returns "" on success, else the
// CUDA error text.
std::string EmbedF32(const float* table, const int32_t* ids, int64_t n, int64_t hidden, float scale,
                     float* y, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_EMBEDDING_H_
