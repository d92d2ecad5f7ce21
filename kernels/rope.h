// Rotary position embedding on the GPU, rotate_half convention (HF Llama/Gemma), fp32, rounded
// as CpuBackend::Rope rounds it. Plain C++ header: no CUDA types cross it.
#ifndef DRIVELM_KERNELS_ROPE_H_
#define DRIVELM_KERNELS_ROPE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace drivelm::kernels {

// transformers' default rope init, in float as it computes it:
// inv_freq[k] = 1 / float(theta ** (float(2k) / float(head_dim))) for k < head_dim / 2, the
// power correctly rounded (evaluated in double), exactly as CpuBackend::Rope. Host code.
std::vector<float> RopeInvFreq(float theta, int64_t head_dim);

// In place on x [tokens, heads, head_dim] (device): token t is rotated by the float angles
// positions[t] * inv_freq[k] (device arrays of `tokens` and head_dim / 2 entries; inv_freq from
// RopeInvFreq). head_dim must be even. `stream` is a cudaStream_t (nullptr: default). Returns ""
// on success, else the error text.
std::string RopeF32(float* x, const int32_t* positions, const float* inv_freq, int64_t tokens,
                    int64_t heads, int64_t head_dim, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_ROPE_H_
