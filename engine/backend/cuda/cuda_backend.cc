#include "engine/backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/half.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/im2patches.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "kernels/rows.h"

namespace drivelm::engine {
namespace {

// A failed CUDA call inside an op leaves the backend's results undefined and the op has no error
// channel (cuda_backend.h): name the call and stop.
void CheckCuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return;
  std::fprintf(stderr, "CudaBackend: %s failed at %s:%d: %s\n", call, file, line,
               cudaGetErrorString(err));
  std::abort();
}

// The kernels' host API returns "" or the error text.
void CheckKernel(const std::string& err, const char* what, const char* file, int line) {
  if (err.empty()) return;
  std::fprintf(stderr, "CudaBackend: %s failed at %s:%d: %s\n", what, file, line, err.c_str());
  std::abort();
}

#define DRIVELM_CUDA_CHECK(call) CheckCuda((call), #call, __FILE__, __LINE__)
#define DRIVELM_KERNEL_CHECK(call) CheckKernel((call), #call, __FILE__, __LINE__)

// cudaMalloc of size 0 may return nullptr, and Tensor::empty() means "no tensor": every tensor
// gets at least this many bytes (also the allocation granularity, so nothing is wasted).
constexpr size_t kMinAllocation = 256;

[[maybe_unused]] bool IsF32(const Tensor& t) {  // used by asserts only
  return t.dtype() == DType::kF32 && t.device() == Device::kCuda;
}

kernels::AttentionMask ToMask(const AttentionParams& p) {
  kernels::AttentionMask m;
  m.scale = p.scale;
  m.softcap = p.softcap;
  m.causal = p.causal;
  m.q_start = p.q_start;
  m.prefix_len = p.prefix_len;
  m.sliding_window = p.sliding_window;
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(int device) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it: the process may go on without a GPU
    return absl::UnavailableError(std::string("CUDA: cudaGetDeviceCount failed: ") +
                                  cudaGetErrorString(err));
  }
  if (device < 0 || device >= count) {
    return absl::UnavailableError("CUDA: device " + std::to_string(device) + " requested, " +
                                  std::to_string(count) + " present");
  }
  err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    return absl::UnavailableError(std::string("CUDA: cudaSetDevice failed: ") +
                                  cudaGetErrorString(err));
  }
  int pools = 0;
  err = cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device);
  if (err != cudaSuccess || pools == 0) {
    return absl::UnavailableError("CUDA: device " + std::to_string(device) +
                                  " has no stream-ordered allocator (cudaMallocAsync)");
  }
  // Non-blocking: the backend's work does not serialize with other users of the legacy default
  // stream; everything it does is ordered on its own stream.
  cudaStream_t stream = nullptr;
  err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) {
    return absl::InternalError(std::string("CUDA: cudaStreamCreate failed: ") +
                               cudaGetErrorString(err));
  }
  void* cublas = nullptr;
  const std::string cublas_err = kernels::CreateCublasHandle(stream, &cublas);
  if (!cublas_err.empty()) {
    cudaStreamDestroy(stream);
    return absl::InternalError("CUDA: " + cublas_err);
  }
  return std::unique_ptr<CudaBackend>(new CudaBackend(device, stream, cublas));
}

CudaBackend::CudaBackend(int device, void* stream, void* cublas)
    : device_(device), stream_(stream), cublas_(cublas) {}

CudaBackend::~CudaBackend() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(static_cast<cudaStream_t>(stream_));
  kernels::DestroyCublasHandle(cublas_);
  cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

void CudaBackend::Enter() { DRIVELM_CUDA_CHECK(cudaSetDevice(device_)); }

void CudaBackend::Synchronize() {
  Enter();
  DRIVELM_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)));
}

void* CudaBackend::UploadScratch(const void* host, size_t bytes) {
  cudaStream_t stream = static_cast<cudaStream_t>(stream_);
  void* p = nullptr;
  DRIVELM_CUDA_CHECK(cudaMallocAsync(&p, std::max(bytes, kMinAllocation), stream));
  // From pageable memory the call returns once `host` is staged, so the caller's buffer may go.
  DRIVELM_CUDA_CHECK(cudaMemcpyAsync(p, host, bytes, cudaMemcpyHostToDevice, stream));
  return p;
}

void CudaBackend::FreeScratch(void* p) {
  DRIVELM_CUDA_CHECK(cudaFreeAsync(p, static_cast<cudaStream_t>(stream_)));
}

// ---------------------------------------------------------------------------------- Memory

Tensor CudaBackend::Empty(DType dtype, const Shape& shape) {
  Enter();
  const size_t nbytes = static_cast<size_t>(NumElements(shape)) * DTypeSize(dtype);
  void* p = nullptr;
  DRIVELM_CUDA_CHECK(cudaMalloc(&p, std::max(nbytes, kMinAllocation)));
  // A tensor may die while ops that use it are still queued: wait for the device before the
  // memory can be handed out again (cudaFree synchronizes too, but this does not rely on it).
  // Errors are ignored: at process exit the runtime may already be gone
  // (cudaErrorCudartUnloading). Follow-up: a caching allocator with stream-ordered reuse.
  const int device = device_;
  std::shared_ptr<void> storage(p, [device](void* q) {
    cudaSetDevice(device);
    cudaDeviceSynchronize();
    cudaFree(q);
  });
  return Tensor(std::move(storage), p, dtype, shape, Device::kCuda);
}

Tensor CudaBackend::Upload(DType dtype, const Shape& shape, const void* host) {
  Enter();
  const int64_t n = NumElements(shape);
  cudaStream_t stream = static_cast<cudaStream_t>(stream_);
  switch (dtype) {
    case DType::kF32:
    case DType::kI32: {
      Tensor t = Empty(dtype, shape);
      if (n > 0) {
        DRIVELM_CUDA_CHECK(
            cudaMemcpyAsync(t.data(), host, t.nbytes(), cudaMemcpyHostToDevice, stream));
        DRIVELM_CUDA_CHECK(cudaStreamSynchronize(stream));
      }
      return t;
    }
    case DType::kF16:
    case DType::kBF16: {
      // Widened on the host, exactly as CpuBackend does (follow-up: keep bf16 on the device).
      std::vector<float> wide(static_cast<size_t>(n));
      const uint16_t* src = static_cast<const uint16_t*>(host);
      const bool bf16 = dtype == DType::kBF16;
      for (int64_t i = 0; i < n; ++i) wide[i] = bf16 ? Bf16ToF32(src[i]) : F16ToF32(src[i]);
      Tensor t = Empty(DType::kF32, shape);
      if (n > 0) {
        DRIVELM_CUDA_CHECK(
            cudaMemcpyAsync(t.data(), wide.data(), t.nbytes(), cudaMemcpyHostToDevice, stream));
        DRIVELM_CUDA_CHECK(cudaStreamSynchronize(stream));  // `wide` dies at return
      }
      return t;
    }
  }
  return Tensor();
}

void CudaBackend::DownloadF32(const Tensor& t, float* host) {
  assert(t.device() == Device::kCuda);
  Enter();
  const int64_t n = t.numel();
  if (n == 0) return;
  cudaStream_t stream = static_cast<cudaStream_t>(stream_);
  switch (t.dtype()) {
    case DType::kF32:
      DRIVELM_CUDA_CHECK(cudaMemcpyAsync(host, t.data(), t.nbytes(), cudaMemcpyDeviceToHost, stream));
      DRIVELM_CUDA_CHECK(cudaStreamSynchronize(stream));
      return;
    case DType::kF16:
    case DType::kBF16: {
      std::vector<uint16_t> raw(static_cast<size_t>(n));
      DRIVELM_CUDA_CHECK(
          cudaMemcpyAsync(raw.data(), t.data(), t.nbytes(), cudaMemcpyDeviceToHost, stream));
      DRIVELM_CUDA_CHECK(cudaStreamSynchronize(stream));
      const bool bf16 = t.dtype() == DType::kBF16;
      for (int64_t i = 0; i < n; ++i) host[i] = bf16 ? Bf16ToF32(raw[i]) : F16ToF32(raw[i]);
      return;
    }
    case DType::kI32: {
      std::vector<int32_t> raw(static_cast<size_t>(n));
      DRIVELM_CUDA_CHECK(
          cudaMemcpyAsync(raw.data(), t.data(), t.nbytes(), cudaMemcpyDeviceToHost, stream));
      DRIVELM_CUDA_CHECK(cudaStreamSynchronize(stream));
      for (int64_t i = 0; i < n; ++i) host[i] = static_cast<float>(raw[i]);
      return;
    }
  }
}

void CudaBackend::CopyRows(const Tensor& src, Tensor* dst, int64_t dst_row) {
  assert(src.dtype() == dst->dtype());
  assert(src.device() == Device::kCuda && dst->device() == Device::kCuda);
  assert(src.rank() >= 1 && dst->rank() >= 1);
  assert(src.dim(0) == 0 || src.row_elems() == dst->row_elems());
  assert(dst_row >= 0 && dst_row + src.dim(0) <= dst->dim(0));
  if (src.numel() == 0) return;
  Enter();
  cudaStream_t stream = static_cast<cudaStream_t>(stream_);
  const size_t nbytes = src.nbytes();
  char* out = static_cast<char*>(dst->data()) +
              static_cast<size_t>(dst_row * dst->row_elems()) * DTypeSize(dst->dtype());
  const char* in = static_cast<const char*>(src.data());
  const bool overlap = out < in + nbytes && in < out + nbytes;
  if (!overlap) {
    DRIVELM_CUDA_CHECK(cudaMemcpyAsync(out, in, nbytes, cudaMemcpyDeviceToDevice, stream));
    return;
  }
  // CpuBackend's memmove semantics: through a temporary (cudaMemcpy ranges must not overlap).
  void* tmp = nullptr;
  DRIVELM_CUDA_CHECK(cudaMallocAsync(&tmp, nbytes, stream));
  DRIVELM_CUDA_CHECK(cudaMemcpyAsync(tmp, in, nbytes, cudaMemcpyDeviceToDevice, stream));
  DRIVELM_CUDA_CHECK(cudaMemcpyAsync(out, tmp, nbytes, cudaMemcpyDeviceToDevice, stream));
  DRIVELM_CUDA_CHECK(cudaFreeAsync(tmp, stream));
}

// ----------------------------------------------------------------------------------- Dense

void CudaBackend::Linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) {
  assert(IsF32(x) && IsF32(w) && IsF32(*y));
  assert(x.rank() == 2 && w.rank() == 2 && y->rank() == 2);
  const int64_t m = x.dim(0), k = x.dim(1), n = w.dim(0);
  assert(w.dim(1) == k && y->dim(0) == m && y->dim(1) == n);
  assert(bias == nullptr || (IsF32(*bias) && bias->numel() == n));
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::LinearF32(cublas_, static_cast<const float*>(x.data()),
                                          static_cast<const float*>(w.data()),
                                          bias ? static_cast<const float*>(bias->data()) : nullptr,
                                          m, n, k, static_cast<float*>(y->data())));
}

// ------------------------------------------------------------------ Elementwise / norms

void CudaBackend::AddInPlace(Tensor* y, const Tensor& x) {
  assert(IsF32(*y) && IsF32(x));
  assert(y->rank() >= 1 && x.rank() >= 1);
  assert(x.numel() == y->numel() ||
         (x.dim(0) > 0 && y->dim(0) % x.dim(0) == 0 && x.row_elems() == y->row_elems()));
  if (y->numel() == 0) return;
  Enter();
  // x's rows repeated over y's is y[i] += x[i % x.numel()] on the flat arrays.
  DRIVELM_KERNEL_CHECK(kernels::AddF32(static_cast<float*>(y->data()),
                                       static_cast<const float*>(x.data()), y->numel(), x.numel(),
                                       stream_));
}

void CudaBackend::ScaleInPlace(Tensor* y, float s) {
  assert(IsF32(*y));
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::ScaleF32(static_cast<float*>(y->data()), s, y->numel(), stream_));
}

void CudaBackend::RmsNorm(const Tensor& x, const Tensor& w, float eps, float weight_offset,
                          Tensor* y) {
  assert(IsF32(x) && IsF32(w) && IsF32(*y));
  assert(x.rank() >= 1 && y->shape() == x.shape());
  const int64_t rows = x.dim(0), n = x.row_elems();
  assert(w.numel() == n);
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::RmsNormF32(static_cast<const float*>(x.data()),
                                           static_cast<const float*>(w.data()), eps, weight_offset,
                                           rows, n, static_cast<float*>(y->data()), stream_));
}

void CudaBackend::LayerNorm(const Tensor& x, const Tensor& w, const Tensor& b, float eps,
                            Tensor* y) {
  assert(IsF32(x) && IsF32(w) && IsF32(b) && IsF32(*y));
  assert(x.rank() >= 1 && y->shape() == x.shape());
  const int64_t rows = x.dim(0), n = x.row_elems();
  assert(w.numel() == n && b.numel() == n);
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::LayerNormF32(
      static_cast<const float*>(x.data()), static_cast<const float*>(w.data()),
      static_cast<const float*>(b.data()), eps, rows, n, static_cast<float*>(y->data()), stream_));
}

void CudaBackend::GeluTanh(Tensor* x) {
  assert(IsF32(*x));
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::GeluTanhF32(static_cast<float*>(x->data()), x->numel(), stream_));
}

void CudaBackend::GeluTanhMul(const Tensor& gate, const Tensor& up, Tensor* y) {
  assert(IsF32(gate) && IsF32(up) && IsF32(*y));
  assert(gate.shape() == up.shape() && y->shape() == gate.shape());
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::GeluTanhMulF32(static_cast<const float*>(gate.data()),
                                               static_cast<const float*>(up.data()),
                                               static_cast<float*>(y->data()), y->numel(),
                                               stream_));
}

void CudaBackend::SoftCapInPlace(Tensor* x, float cap) {
  assert(IsF32(*x) && cap > 0.0f);
  Enter();
  DRIVELM_KERNEL_CHECK(
      kernels::SoftCapF32(static_cast<float*>(x->data()), cap, x->numel(), stream_));
}

// ------------------------------------------------------------------- Transformer pieces

void CudaBackend::Embed(const Tensor& table, absl::Span<const int32_t> ids, float scale,
                        Tensor* y) {
  assert(IsF32(table) && IsF32(*y) && table.rank() == 2 && y->rank() == 2);
  const int64_t vocab = table.dim(0), hidden = table.dim(1);
  const int64_t n = static_cast<int64_t>(ids.size());
  assert(y->dim(0) == n && y->dim(1) == hidden);
  for (int32_t id : ids) {
    assert(id >= 0 && id < vocab);
    (void)id;
  }
  (void)vocab;  // read by the asserts only
  if (n == 0 || hidden == 0) return;
  Enter();
  void* d_ids = UploadScratch(ids.data(), ids.size() * sizeof(int32_t));
  DRIVELM_KERNEL_CHECK(kernels::EmbedF32(static_cast<const float*>(table.data()),
                                         static_cast<const int32_t*>(d_ids), n, hidden, scale,
                                         static_cast<float*>(y->data()), stream_));
  FreeScratch(d_ids);
}

void CudaBackend::Rope(Tensor* x, absl::Span<const int32_t> positions, float theta) {
  assert(IsF32(*x) && x->rank() == 3);
  const int64_t tokens = x->dim(0), heads = x->dim(1), d = x->dim(2);
  assert(static_cast<int64_t>(positions.size()) == tokens && d % 2 == 0);
  if (tokens == 0 || heads == 0 || d / 2 == 0) return;
  Enter();
  const std::vector<float> inv_freq = kernels::RopeInvFreq(theta, d);
  void* d_pos = UploadScratch(positions.data(), positions.size() * sizeof(int32_t));
  void* d_freq = UploadScratch(inv_freq.data(), inv_freq.size() * sizeof(float));
  DRIVELM_KERNEL_CHECK(kernels::RopeF32(static_cast<float*>(x->data()),
                                        static_cast<const int32_t*>(d_pos),
                                        static_cast<const float*>(d_freq), tokens, heads, d,
                                        stream_));
  FreeScratch(d_pos);
  FreeScratch(d_freq);
}

void CudaBackend::Attention(const Tensor& q, const Tensor& k, const Tensor& v,
                            const AttentionParams& p, Tensor* out) {
  assert(IsF32(q) && IsF32(k) && IsF32(v) && IsF32(*out));
  assert(q.rank() == 3 && k.rank() == 3 && v.rank() == 3 && out->shape() == q.shape());
  const int64_t tq = q.dim(0), hq = q.dim(1), d = q.dim(2);
  const int64_t tk = k.dim(0), hkv = k.dim(1);
  assert(k.dim(2) == d && v.shape() == k.shape());
  assert(hkv > 0 && hq % hkv == 0);
  assert(p.q_start >= 0);
  if (tq == 0 || hq == 0 || d == 0) return;
  Enter();
  // tk == 0 needs no special case: no query sees a key, and the kernel writes zeros.
  DRIVELM_KERNEL_CHECK(kernels::AttentionF32(
      static_cast<const float*>(q.data()), static_cast<const float*>(k.data()),
      static_cast<const float*>(v.data()), tq, tk, hq, hkv, d, ToMask(p),
      static_cast<float*>(out->data()), stream_));
}

void CudaBackend::ScatterRows(const Tensor& src, absl::Span<const int64_t> dst_rows, Tensor* dst) {
  assert(src.dtype() == dst->dtype() && src.row_elems() == dst->row_elems());
  assert(src.device() == Device::kCuda && dst->device() == Device::kCuda);
  assert(static_cast<int64_t>(dst_rows.size()) == src.dim(0));
  for (int64_t r : dst_rows) {
    assert(r >= 0 && r < dst->dim(0));
    (void)r;
  }
  if (dst_rows.empty() || src.row_elems() == 0) return;
  Enter();
  const int64_t row_bytes = src.row_elems() * static_cast<int64_t>(DTypeSize(src.dtype()));
  void* d_rows = UploadScratch(dst_rows.data(), dst_rows.size() * sizeof(int64_t));
  DRIVELM_KERNEL_CHECK(kernels::ScatterRows(src.data(), static_cast<const int64_t*>(d_rows),
                                            static_cast<int64_t>(dst_rows.size()), row_bytes,
                                            dst->data(), stream_));
  FreeScratch(d_rows);
}

void CudaBackend::GatherRows(const Tensor& src, absl::Span<const int64_t> src_rows, Tensor* dst) {
  assert(src.dtype() == dst->dtype() && src.row_elems() == dst->row_elems());
  assert(src.device() == Device::kCuda && dst->device() == Device::kCuda);
  assert(static_cast<int64_t>(src_rows.size()) == dst->dim(0));
  for (int64_t r : src_rows) {
    assert(r >= 0 && r < src.dim(0));
    (void)r;
  }
  if (src_rows.empty() || src.row_elems() == 0) return;
  Enter();
  const int64_t row_bytes = src.row_elems() * static_cast<int64_t>(DTypeSize(src.dtype()));
  void* d_rows = UploadScratch(src_rows.data(), src_rows.size() * sizeof(int64_t));
  DRIVELM_KERNEL_CHECK(kernels::GatherRows(src.data(), static_cast<const int64_t*>(d_rows),
                                           static_cast<int64_t>(src_rows.size()), row_bytes,
                                           dst->data(), stream_));
  FreeScratch(d_rows);
}

void CudaBackend::PagedAttention(const Tensor& q, const Tensor& k_pool, const Tensor& v_pool,
                                 int64_t block_size, absl::Span<const PagedSequence> seqs,
                                 Tensor* out) {
  assert(IsF32(q) && IsF32(k_pool) && IsF32(v_pool) && IsF32(*out));
  assert(q.rank() == 3 && k_pool.rank() == 3 && out->shape() == q.shape());
  assert(v_pool.shape() == k_pool.shape() && k_pool.dim(2) == q.dim(2));
  assert(block_size > 0);
  const int64_t rows = q.dim(0), hq = q.dim(1), d = q.dim(2), hkv = k_pool.dim(1);
  assert(hkv > 0 && hq % hkv == 0);
  if (rows == 0 || hq == 0 || d == 0) return;
  // One descriptor per sequence with queries, every block table concatenated, and the owning
  // sequence of each query row (-1: none; CpuBackend leaves such rows untouched too).
  std::vector<kernels::PagedSeq> descs;
  std::vector<int32_t> tables;
  std::vector<int32_t> row_seq(static_cast<size_t>(rows), -1);
  for (const PagedSequence& s : seqs) {
    if (s.q_len == 0) continue;
    assert(static_cast<int64_t>(s.block_table.size()) * block_size >= s.kv_len);
    assert(s.q_begin >= 0 && s.q_begin + s.q_len <= rows);
    assert(s.params.q_start >= 0);
    kernels::PagedSeq desc;
    desc.q_begin = s.q_begin;
    desc.q_len = s.q_len;
    desc.kv_len = s.kv_len;
    desc.table_offset = static_cast<int64_t>(tables.size());
    desc.mask = ToMask(s.params);
    tables.insert(tables.end(), s.block_table.begin(), s.block_table.end());
    for (int64_t r = s.q_begin; r < s.q_begin + s.q_len; ++r) {
      assert(row_seq[r] == -1);  // sequences own disjoint query rows
      row_seq[r] = static_cast<int32_t>(descs.size());
    }
    descs.push_back(desc);
  }
  if (descs.empty()) return;
  if (tables.empty()) tables.push_back(0);  // every kv_len is 0; keep the upload non-empty
  Enter();
  void* d_descs = UploadScratch(descs.data(), descs.size() * sizeof(kernels::PagedSeq));
  void* d_rows = UploadScratch(row_seq.data(), row_seq.size() * sizeof(int32_t));
  void* d_tables = UploadScratch(tables.data(), tables.size() * sizeof(int32_t));
  DRIVELM_KERNEL_CHECK(kernels::PagedAttentionF32(
      static_cast<const float*>(q.data()), static_cast<const float*>(k_pool.data()),
      static_cast<const float*>(v_pool.data()), block_size, rows, hq, hkv, d,
      static_cast<const kernels::PagedSeq*>(d_descs), static_cast<const int32_t*>(d_rows),
      static_cast<const int32_t*>(d_tables), static_cast<float*>(out->data()), stream_));
  FreeScratch(d_descs);
  FreeScratch(d_rows);
  FreeScratch(d_tables);
}

void CudaBackend::Im2Patches(const Tensor& pixels, int patch, Tensor* y) {
  assert(IsF32(pixels) && IsF32(*y) && pixels.rank() == 4 && y->rank() == 2 && patch > 0);
  const int64_t n = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
  assert(h % patch == 0 && w % patch == 0);
  assert(y->dim(0) == n * (h / patch) * (w / patch) &&
         y->dim(1) == c * static_cast<int64_t>(patch) * patch);
  Enter();
  DRIVELM_KERNEL_CHECK(kernels::Im2PatchesF32(static_cast<const float*>(pixels.data()), n, c, h, w,
                                              patch, static_cast<float*>(y->data()), stream_));
}

}  // namespace drivelm::engine
