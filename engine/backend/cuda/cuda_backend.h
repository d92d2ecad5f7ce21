// CudaBackend: Backend on one NVIDIA GPU, with the kernels of kernels/ and cuBLAS.
//
// Today it is the fp32 twin of CpuBackend: the same dtypes (Upload widens F16/BF16 weights to F32
// on the host, activations are F32), the same rounding where it is cheap to match (kernels/*.h),
// cublasSgemm without TF32 for Linear. It exists to be checked against the CPU reference op by
// op (cuda_backend_test.cc) and end to end (tests/golden_parity_cuda_test.cc); bf16 weights and
// activations, cuBLASLt, flash attention, a caching allocator and CUDA graphs are the follow-ups
// (kernels/README.md).
//
// Execution: every op is enqueued on one CUDA stream owned by the backend and returns without
// waiting; DownloadF32 (and Synchronize) wait for the stream. Small host arguments of an op
// (token ids, positions, row indices, block tables) are copied into stream-ordered scratch
// (cudaMallocAsync / cudaFreeAsync on the same stream), so the caller's spans may die as soon
// as the op returns.
//
// Memory: Empty() is a plain cudaMalloc per tensor, released (after waiting for the device) by
// cudaFree when the last Tensor view goes away; tensors may outlive the backend. Device::kCuda.
//
// Errors: Backend's ops have no error channel. Shapes are checked with assert() as in every
// backend; a failing CUDA or cuBLAS call (out of memory, a device fault) prints the call and the
// error and aborts, since the results would otherwise be silently wrong. Create() reports a
// missing driver or device as a Status, so callers (and the GPU tests) can skip cleanly.
//
// Threading: one thread drives the backend at a time (the engine loop), as for CpuBackend. Each
// op makes the backend's device current on the calling thread first.
#ifndef DRIVELM_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_
#define DRIVELM_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend/backend.h"
#include "engine/backend/tensor.h"

namespace drivelm::engine {

class CudaBackend : public Backend {
 public:
  // The backend on CUDA device `device`. Unavailable when there is no driver or no such device;
  // Internal when the stream or cuBLAS cannot be set up.
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(int device = 0);
  ~CudaBackend() override;

  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda"; }
  int device() const { return device_; }
  // Waits until every op enqueued so far has finished (benchmarks; DownloadF32 does it itself).
  void Synchronize();

  // Memory. Upload stores F16/BF16 as F32 (widened on the host, then copied), F32 and I32 as
  // they are; Empty() allocates any dtype. Other ops take F32 tensors on this backend only.
  Tensor Empty(DType dtype, const Shape& shape) override;
  Tensor Upload(DType dtype, const Shape& shape, const void* host) override;
  void DownloadF32(const Tensor& t, float* host) override;
  void CopyRows(const Tensor& src, Tensor* dst, int64_t dst_row) override;

  void Linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) override;

  void AddInPlace(Tensor* y, const Tensor& x) override;
  void ScaleInPlace(Tensor* y, float s) override;
  void RmsNorm(const Tensor& x, const Tensor& w, float eps, float weight_offset,
               Tensor* y) override;
  void LayerNorm(const Tensor& x, const Tensor& w, const Tensor& b, float eps,
                 Tensor* y) override;
  void GeluTanh(Tensor* x) override;
  void GeluTanhMul(const Tensor& gate, const Tensor& up, Tensor* y) override;
  void SoftCapInPlace(Tensor* x, float cap) override;

  void Embed(const Tensor& table, absl::Span<const int32_t> ids, float scale,
             Tensor* y) override;
  void Rope(Tensor* x, absl::Span<const int32_t> positions, float theta) override;
  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                 Tensor* out) override;
  void ScatterRows(const Tensor& src, absl::Span<const int64_t> dst_rows, Tensor* dst) override;
  void GatherRows(const Tensor& src, absl::Span<const int64_t> src_rows, Tensor* dst) override;
  void PagedAttention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                      int64_t block_size, absl::Span<const PagedSequence> seqs,
                      Tensor* out) override;
  void Im2Patches(const Tensor& pixels, int patch, Tensor* y) override;

 private:
  CudaBackend(int device, void* stream, void* cublas);

  // Makes device_ current on the calling thread.
  void Enter();
  // A device copy of `bytes` of host memory, in stream-ordered scratch; release with
  // FreeScratch once the ops that read it are enqueued.
  void* UploadScratch(const void* host, size_t bytes);
  void FreeScratch(void* p);

  int device_;
  void* stream_;  // cudaStream_t
  void* cublas_;  // cublasHandle_t bound to stream_
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_
