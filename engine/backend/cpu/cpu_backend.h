// CpuBackend: the fp32 reference implementation of Backend. Every other backend is tested
// against it, so it favours fidelity to PyTorch/transformers over speed: activations and weights
// are F32, reductions accumulate in double, and elementwise ops follow the operation order (and,
// where PyTorch's kernels fuse a multiply-add, the fused rounding) of the Hugging Face code.
// Matrix products go to OpenBLAS; everything else is split over rows by a ThreadPool.
//
// Threading: one CpuBackend is driven by one thread at a time (the engine loop); its ops are not
// safe to call concurrently on the same instance. The constructor sets OpenBLAS's process-wide
// thread count (openblas_set_num_threads), so the last CpuBackend constructed decides it.
// Tensors it returns own 64-byte-aligned host memory and may outlive the backend.
#ifndef DRIVELM_ENGINE_BACKEND_CPU_CPU_BACKEND_H_
#define DRIVELM_ENGINE_BACKEND_CPU_CPU_BACKEND_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/types/span.h"
#include "engine/backend/backend.h"
#include "engine/backend/cpu/thread_pool.h"
#include "engine/backend/tensor.h"

namespace drivelm::engine {

class CpuBackend : public Backend {
 public:
  // `num_threads`: threads for the pool and for OpenBLAS; 0 = hardware concurrency.
  explicit CpuBackend(int num_threads = 0);
  ~CpuBackend() override = default;

  std::string name() const override { return "cpu"; }
  int num_threads() const { return pool_.num_threads(); }

  // Memory. Empty() of any dtype allocates that dtype; Upload() stores F16/BF16 as F32 (exact
  // widening) and copies F32 and I32. Ops other than memory ones take F32 tensors only.
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
  void Im2Patches(const Tensor& pixels, int patch, Tensor* y) override;
  // cpu_paged.cc
  void ScatterRows(const Tensor& src, absl::Span<const int64_t> dst_rows, Tensor* dst) override;
  void GatherRows(const Tensor& src, absl::Span<const int64_t> src_rows, Tensor* dst) override;
  void PagedAttention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                      int64_t block_size, absl::Span<const PagedSequence> seqs,
                      Tensor* out) override;

 private:
  // Runs fn over rows [0, rows) in parallel when the work (rows * row_cost elements) is worth
  // waking the pool for; otherwise inline.
  void ForRows(int64_t rows, int64_t row_cost,
               const std::function<void(int64_t begin, int64_t end)>& fn);

  ThreadPool pool_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_BACKEND_CPU_CPU_BACKEND_H_
