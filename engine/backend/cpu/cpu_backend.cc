#include "engine/backend/cpu/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backend/half.h"

namespace drivelm::engine {
namespace {

constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like

// Elements of work below which an op runs inline: waking the pool costs a few microseconds.
constexpr int64_t kParallelGrainElems = 1 << 15;

// Query rows (all heads of one KV group together) per attention block: bounds the score
// scratch to kAttentionBlockRows x keys floats while keeping the GEMMs large.
constexpr int64_t kAttentionBlockRows = 256;

// a * b + c with a single rounding, as the fused multiply-add PyTorch's vectorized CPU kernels
// compile to (GCC contracts their Vectorized mul + add into FMA on AVX2/AVX-512 builds). The
// product of two floats is exact in double, so this rounds twice (double, then float) only in
// the sum: it differs from a true fma only when the double sum lands exactly on a float tie,
// which is rare, and avoids the slow software fma() on pre-FMA targets (-march=x86-64-v2).
inline float FmaF(float a, float b, float c) {
  return static_cast<float>(static_cast<double>(a) * static_cast<double>(b) +
                            static_cast<double>(c));
}

// tanh rounded to float, about twice as fast as glibc's tanhf and (checked over 4M arguments)
// equal to the correctly rounded tanh: exp in double leaves ~29 spare bits, enough to absorb the
// cancellation in e - 1 down to |x| = 1e-4, below which the series is exact to double.
inline float TanhF(float x) {
  const double a = std::fabs(static_cast<double>(x));
  double t;
  if (a < 1e-4) {
    t = a - a * a * a / 3.0;
  } else if (a >= 10.0) {
    t = 1.0;  // 1 - tanh(10) = 4e-9, below half a float ulp of 1
  } else {
    const double e = std::exp(2.0 * a);
    t = (e - 1.0) / (e + 1.0);
  }
  return std::copysign(static_cast<float>(t), x);
}

// torch.nn.functional.gelu(x, approximate="tanh") on CPU (aten/src/ATen/native/cpu/
// Activation.cpp): kBeta * (x + kKappa * x^3) with the inner multiply-add fused, then
// 0.5 * x * (1 + tanh(inner)), all in float.
inline float GeluTanhScalar(float x) {
  constexpr float kBeta = static_cast<float>(M_SQRT2 * M_2_SQRTPI * 0.5);
  constexpr float kKappa = 0.044715f;
  const float x_cube = x * x * x;
  const float inner = kBeta * FmaF(kKappa, x_cube, x);
  return 0.5f * x * (1.0f + TanhF(inner));
}

std::shared_ptr<void> AllocateAligned(size_t nbytes) {
  // aligned_alloc wants a multiple of the alignment; at least one line so that even an empty
  // tensor has a non-null data pointer (Tensor::empty() means "no tensor").
  size_t size = std::max(kAlignment, (nbytes + kAlignment - 1) / kAlignment * kAlignment);
  void* p = std::aligned_alloc(kAlignment, size);
  // Backend::Empty has no error channel: callers bound memory up front (KV cache and batch
  // sizes), so running out here is a sizing bug. Fail loudly rather than write through null.
  if (p == nullptr) {
    std::fprintf(stderr, "CpuBackend: cannot allocate %zu bytes of host memory\n", size);
    std::abort();
  }
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

[[maybe_unused]] bool IsF32(const Tensor& t) {  // used by asserts only
  return t.dtype() == DType::kF32 && t.device() == Device::kCpu;
}

}  // namespace

CpuBackend::CpuBackend(int num_threads) : pool_(num_threads) {
  openblas_set_num_threads(pool_.num_threads());
}

void CpuBackend::ForRows(int64_t rows, int64_t row_cost,
                         const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t grain = std::max<int64_t>(1, kParallelGrainElems / std::max<int64_t>(row_cost, 1));
  pool_.ParallelFor(rows, fn, grain);
}

// ---------------------------------------------------------------------------------- Memory

Tensor CpuBackend::Empty(DType dtype, const Shape& shape) {
  const size_t nbytes = static_cast<size_t>(NumElements(shape)) * DTypeSize(dtype);
  std::shared_ptr<void> storage = AllocateAligned(nbytes);
  void* data = storage.get();
  return Tensor(std::move(storage), data, dtype, shape, Device::kCpu);
}

Tensor CpuBackend::Upload(DType dtype, const Shape& shape, const void* host) {
  const int64_t n = NumElements(shape);
  switch (dtype) {
    case DType::kF32:
    case DType::kI32: {
      Tensor t = Empty(dtype, shape);
      if (n > 0) std::memcpy(t.data(), host, t.nbytes());
      return t;
    }
    case DType::kF16:
    case DType::kBF16: {
      Tensor t = Empty(DType::kF32, shape);
      const uint16_t* src = static_cast<const uint16_t*>(host);
      float* dst = t.f32();
      const bool bf16 = dtype == DType::kBF16;
      pool_.ParallelFor(
          n,
          [&](int64_t b, int64_t e) {
            if (bf16) {
              for (int64_t i = b; i < e; ++i) dst[i] = Bf16ToF32(src[i]);
            } else {
              for (int64_t i = b; i < e; ++i) dst[i] = F16ToF32(src[i]);
            }
          },
          kParallelGrainElems);
      return t;
    }
  }
  return Tensor();
}

void CpuBackend::DownloadF32(const Tensor& t, float* host) {
  assert(t.device() == Device::kCpu);
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::kF32:
      if (n > 0) std::memcpy(host, t.data(), t.nbytes());
      return;
    case DType::kF16: {
      const uint16_t* src = static_cast<const uint16_t*>(t.data());
      for (int64_t i = 0; i < n; ++i) host[i] = F16ToF32(src[i]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* src = static_cast<const uint16_t*>(t.data());
      for (int64_t i = 0; i < n; ++i) host[i] = Bf16ToF32(src[i]);
      return;
    }
    case DType::kI32: {
      const int32_t* src = t.i32();
      for (int64_t i = 0; i < n; ++i) host[i] = static_cast<float>(src[i]);
      return;
    }
  }
}

void CpuBackend::CopyRows(const Tensor& src, Tensor* dst, int64_t dst_row) {
  assert(src.dtype() == dst->dtype());
  assert(src.rank() >= 1 && dst->rank() >= 1);
  assert(src.dim(0) == 0 || src.row_elems() == dst->row_elems());
  assert(dst_row >= 0 && dst_row + src.dim(0) <= dst->dim(0));
  if (src.numel() == 0) return;
  char* out = static_cast<char*>(dst->data()) +
              static_cast<size_t>(dst_row * dst->row_elems()) * DTypeSize(dst->dtype());
  std::memmove(out, src.data(), src.nbytes());
}

// ----------------------------------------------------------------------------------- Dense

void CpuBackend::Linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) {
  assert(IsF32(x) && IsF32(w) && IsF32(*y));
  assert(x.rank() == 2 && w.rank() == 2 && y->rank() == 2);
  const int64_t m = x.dim(0), k = x.dim(1), n = w.dim(0);
  assert(w.dim(1) == k && y->dim(0) == m && y->dim(1) == n);
  assert(bias == nullptr || (IsF32(*bias) && bias->numel() == n));
  if (m == 0 || n == 0) return;
  float* out = y->f32();
  // torch.nn.Linear with a bias is addmm: the bias is the GEMM's C with beta = 1.
  float beta = 0.0f;
  if (bias != nullptr) {
    const float* b = bias->f32();
    ForRows(m, n, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) std::memcpy(out + r * n, b, n * sizeof(float));
    });
    beta = 1.0f;
  }
  if (k == 0) {
    if (bias == nullptr) std::memset(out, 0, static_cast<size_t>(m * n) * sizeof(float));
    return;
  }
  if (m == 1) {
    // Decode: a matrix-vector product. OpenBLAS 0.3.21's sgemm does not forward m = 1 to gemv,
    // and gemv streams the weight once at close to memory bandwidth.
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), 1.0f,
                w.f32(), static_cast<int>(k), x.f32(), 1, beta, out, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, x.f32(), static_cast<int>(k), w.f32(),
              static_cast<int>(k), beta, out, static_cast<int>(n));
}

// ------------------------------------------------------------------ Elementwise / norms

void CpuBackend::AddInPlace(Tensor* y, const Tensor& x) {
  assert(IsF32(*y) && IsF32(x));
  assert(y->rank() >= 1 && x.rank() >= 1);
  const int64_t rows = y->dim(0), xrows = x.dim(0), cols = y->row_elems();
  assert(x.numel() == y->numel() ||
         (xrows > 0 && rows % xrows == 0 && x.row_elems() == cols));
  if (y->numel() == 0) return;
  float* out = y->f32();
  const float* in = x.f32();
  if (x.numel() == y->numel()) {
    pool_.ParallelFor(
        y->numel(),
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) out[i] += in[i];
        },
        kParallelGrainElems);
    return;
  }
  // x's rows repeat over y's: y row r gets x row r % xrows.
  ForRows(rows, cols, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* yr = out + r * cols;
      const float* xr = in + (r % xrows) * cols;
      for (int64_t c = 0; c < cols; ++c) yr[c] += xr[c];
    }
  });
}

void CpuBackend::ScaleInPlace(Tensor* y, float s) {
  assert(IsF32(*y));
  float* out = y->f32();
  pool_.ParallelFor(
      y->numel(),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] *= s;
      },
      kParallelGrainElems);
}

void CpuBackend::RmsNorm(const Tensor& x, const Tensor& w, float eps, float weight_offset,
                         Tensor* y) {
  assert(IsF32(x) && IsF32(w) && IsF32(*y));
  assert(x.rank() >= 1 && y->shape() == x.shape());
  const int64_t rows = x.dim(0), n = x.row_elems();
  assert(w.numel() == n);
  if (rows == 0 || n == 0) return;
  const float* in = x.f32();
  const float* wt = w.f32();
  float* out = y->f32();
  // Gemma: x * rsqrt(x.pow(2).mean(-1) + eps), then * (1.0 + weight), each step rounded to
  // float as the separate PyTorch ops round it. The sum of squares is accumulated in double
  // (PyTorch's float cascade sum agrees to about one ulp).
  std::vector<float> scale(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) scale[c] = weight_offset + wt[c];
  ForRows(rows, n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = in + r * n;
      float* yr = out + r * n;  // may alias xr: each element is read before it is written
      double sum = 0.0;
      for (int64_t c = 0; c < n; ++c) {
        const float sq = xr[c] * xr[c];
        sum += sq;
      }
      const float mean = static_cast<float>(sum) / static_cast<float>(n);
      const float rstd = 1.0f / std::sqrt(mean + eps);
      for (int64_t c = 0; c < n; ++c) yr[c] = (xr[c] * rstd) * scale[c];
    }
  });
}

void CpuBackend::LayerNorm(const Tensor& x, const Tensor& w, const Tensor& b, float eps,
                           Tensor* y) {
  assert(IsF32(x) && IsF32(w) && IsF32(b) && IsF32(*y));
  assert(x.rank() >= 1 && y->shape() == x.shape());
  const int64_t rows = x.dim(0), n = x.row_elems();
  assert(w.numel() == n && b.numel() == n);
  if (rows == 0 || n == 0) return;
  const float* in = x.f32();
  const float* gamma = w.f32();
  const float* beta = b.f32();
  float* out = y->f32();
  // torch layer_norm (aten/src/ATen/native/cpu/layer_norm_kernel.cpp): mean and biased
  // variance per row, rstd = 1 / sqrt(var + eps) in float, y = fma((x - mean) * rstd, w, b).
  // Mean and variance are exact sums in double rounded once (PyTorch's float Welford agrees to
  // about one ulp).
  ForRows(rows, n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = in + r * n;
      float* yr = out + r * n;  // may alias xr
      double sum = 0.0;
      for (int64_t c = 0; c < n; ++c) sum += xr[c];
      const double mean_d = sum / static_cast<double>(n);
      double m2 = 0.0;
      for (int64_t c = 0; c < n; ++c) {
        const double d = xr[c] - mean_d;
        m2 += d * d;
      }
      const float mean = static_cast<float>(mean_d);
      const float var = static_cast<float>(m2 / static_cast<double>(n));
      const float rstd = 1.0f / std::sqrt(var + eps);
      for (int64_t c = 0; c < n; ++c) yr[c] = FmaF((xr[c] - mean) * rstd, gamma[c], beta[c]);
    }
  });
}

void CpuBackend::GeluTanh(Tensor* x) {
  assert(IsF32(*x));
  float* data = x->f32();
  pool_.ParallelFor(
      x->numel(),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) data[i] = GeluTanhScalar(data[i]);
      },
      kParallelGrainElems / 8);  // tanh makes each element ~10x an add
}

void CpuBackend::GeluTanhMul(const Tensor& gate, const Tensor& up, Tensor* y) {
  assert(IsF32(gate) && IsF32(up) && IsF32(*y));
  assert(gate.shape() == up.shape() && y->shape() == gate.shape());
  const float* g = gate.f32();
  const float* u = up.f32();
  float* out = y->f32();  // may alias g or u: element i is read before it is written
  pool_.ParallelFor(
      y->numel(),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = GeluTanhScalar(g[i]) * u[i];
      },
      kParallelGrainElems / 8);
}

void CpuBackend::SoftCapInPlace(Tensor* x, float cap) {
  assert(IsF32(*x) && cap > 0.0f);
  float* data = x->f32();
  // Gemma-2: logits / cap, tanh, * cap (a division, as in transformers, not a reciprocal).
  pool_.ParallelFor(
      x->numel(),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) data[i] = TanhF(data[i] / cap) * cap;
      },
      kParallelGrainElems / 8);
}

// ------------------------------------------------------------------- Transformer pieces

void CpuBackend::Embed(const Tensor& table, absl::Span<const int32_t> ids, float scale,
                       Tensor* y) {
  assert(IsF32(table) && IsF32(*y) && table.rank() == 2 && y->rank() == 2);
  const int64_t vocab = table.dim(0), hidden = table.dim(1);
  const int64_t n = static_cast<int64_t>(ids.size());
  assert(y->dim(0) == n && y->dim(1) == hidden);
  (void)vocab;  // read by the assert only
  const float* t = table.f32();
  float* out = y->f32();
  ForRows(n, hidden, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      assert(ids[r] >= 0 && ids[r] < vocab);
      const float* src = t + static_cast<int64_t>(ids[r]) * hidden;
      float* dst = out + r * hidden;
      for (int64_t c = 0; c < hidden; ++c) dst[c] = src[c] * scale;
    }
  });
}

void CpuBackend::Rope(Tensor* x, absl::Span<const int32_t> positions, float theta) {
  assert(IsF32(*x) && x->rank() == 3);
  const int64_t tokens = x->dim(0), heads = x->dim(1), d = x->dim(2);
  assert(static_cast<int64_t>(positions.size()) == tokens && d % 2 == 0);
  const int64_t half = d / 2;
  if (tokens == 0 || half == 0) return;
  // transformers' default rope init: inv_freq = 1.0 / (base ** (arange(0, d, 2).float() / d)),
  // all in float32. pow is evaluated in double and rounded, which is the correctly rounded
  // float pow; PyTorch's vectorized powf agrees except within an ulp on near-ties.
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(d);
    const float p = static_cast<float>(std::pow(static_cast<double>(theta),
                                                static_cast<double>(exponent)));
    inv_freq[i] = 1.0f / p;
  }
  float* data = x->f32();
  ForRows(tokens, heads * d, [&](int64_t t0, int64_t t1) {
    std::vector<float> cos_v(static_cast<size_t>(half)), sin_v(static_cast<size_t>(half));
    for (int64_t t = t0; t < t1; ++t) {
      // freqs = inv_freq @ position (a float product); cos/sin of that float angle, correctly
      // rounded (computed in double).
      const float pos = static_cast<float>(positions[t]);
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos * inv_freq[i]);
        cos_v[i] = static_cast<float>(std::cos(angle));
        sin_v[i] = static_cast<float>(std::sin(angle));
      }
      for (int64_t h = 0; h < heads; ++h) {
        float* row = data + (t * heads + h) * d;
        // q * cos + rotate_half(q) * sin, rotate_half(q) = cat(-q2, q1); each product rounded.
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = row[i], x2 = row[i + half];
          row[i] = x1 * cos_v[i] + (-x2) * sin_v[i];
          row[i + half] = x2 * cos_v[i] + x1 * sin_v[i];
        }
      }
    }
  });
}

void CpuBackend::Attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const AttentionParams& p, Tensor* out) {
  assert(IsF32(q) && IsF32(k) && IsF32(v) && IsF32(*out));
  assert(q.rank() == 3 && k.rank() == 3 && v.rank() == 3 && out->shape() == q.shape());
  const int64_t tq = q.dim(0), hq = q.dim(1), d = q.dim(2);
  const int64_t tk = k.dim(0), hkv = k.dim(1);
  assert(k.dim(2) == d && v.shape() == k.shape());
  assert(hkv > 0 && hq % hkv == 0);
  assert(p.q_start >= 0);
  if (tq == 0 || hq == 0 || d == 0) return;
  float* o = out->f32();
  if (tk == 0) {
    std::memset(o, 0, out->nbytes());
    return;
  }
  const int64_t group = hq / hkv;  // query heads per KV head
  const int64_t block_q = std::clamp<int64_t>(kAttentionBlockRows / group, 1, tq);
  const int64_t q_stride = hq * d, kv_stride = hkv * d;

  // Visible keys of the query at absolute position pos are one interval [lo, hi): the mask
  // condition in backend.h is j < hi with hi = max(prefix_len, pos + 1) when causal (tk when
  // not), and p - j < sliding_window gives j >= lo = pos - sliding_window + 1.
  auto key_lo = [&](int64_t pos) {
    return p.sliding_window > 0 ? std::clamp<int64_t>(pos - p.sliding_window + 1, 0, tk) : 0;
  };
  auto key_hi = [&](int64_t pos) {
    return p.causal ? std::clamp<int64_t>(std::max(p.prefix_len, pos + 1), 0, tk) : tk;
  };

  std::vector<float> q_pack(static_cast<size_t>(group * block_q * d));    // [group * bq, d]
  std::vector<float> scores(static_cast<size_t>(group * block_q * tk));   // [group * bq, keys]
  std::vector<float> o_pack(static_cast<size_t>(group * block_q * d));    // [group * bq, d]

  for (int64_t g = 0; g < hkv; ++g) {
    for (int64_t q0 = 0; q0 < tq; q0 += block_q) {
      const int64_t bq = std::min(block_q, tq - q0);
      const int64_t rows = group * bq;  // row r: head g * group + r / bq, query q0 + r % bq
      // Keys any query of the block can see; lo and hi grow with the position.
      const int64_t klo = key_lo(p.q_start + q0);
      const int64_t khi = key_hi(p.q_start + q0 + bq - 1);
      if (klo >= khi) {
        for (int64_t r = 0; r < rows; ++r) {
          float* dst = o + (q0 + r % bq) * q_stride + (g * group + r / bq) * d;
          std::memset(dst, 0, static_cast<size_t>(d) * sizeof(float));
        }
        continue;
      }
      const int64_t nk = khi - klo;
      for (int64_t r = 0; r < rows; ++r) {
        const float* src = q.f32() + (q0 + r % bq) * q_stride + (g * group + r / bq) * d;
        std::memcpy(&q_pack[r * d], src, static_cast<size_t>(d) * sizeof(float));
      }
      // scores[rows, nk] = scale * q_pack . K[klo:khi, g]^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                  static_cast<int>(nk), static_cast<int>(d), p.scale, q_pack.data(),
                  static_cast<int>(d), k.f32() + klo * kv_stride + g * d,
                  static_cast<int>(kv_stride), 0.0f, scores.data(), static_cast<int>(nk));
      // Soft-cap, mask and softmax each row; masked keys get probability 0.
      ForRows(rows, nk * 4, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          float* s = &scores[r * nk];
          const int64_t pos = p.q_start + q0 + r % bq;
          const int64_t lo = std::max(key_lo(pos), klo) - klo;
          const int64_t hi = std::min(key_hi(pos), khi) - klo;
          if (lo >= hi) {
            std::fill(s, s + nk, 0.0f);
            continue;
          }
          std::fill(s, s + lo, 0.0f);
          std::fill(s + hi, s + nk, 0.0f);
          if (p.softcap > 0.0f) {
            for (int64_t j = lo; j < hi; ++j) s[j] = TanhF(s[j] / p.softcap) * p.softcap;
          }
          float max_s = s[lo];
          for (int64_t j = lo + 1; j < hi; ++j) max_s = std::max(max_s, s[j]);
          double sum = 0.0;
          for (int64_t j = lo; j < hi; ++j) {
            s[j] = std::exp(s[j] - max_s);
            sum += s[j];
          }
          const float inv = 1.0f / static_cast<float>(sum);
          for (int64_t j = lo; j < hi; ++j) s[j] *= inv;
        }
      });
      // o_pack[rows, d] = probs . V[klo:khi, g]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                  static_cast<int>(d), static_cast<int>(nk), 1.0f, scores.data(),
                  static_cast<int>(nk), v.f32() + klo * kv_stride + g * d,
                  static_cast<int>(kv_stride), 0.0f, o_pack.data(), static_cast<int>(d));
      for (int64_t r = 0; r < rows; ++r) {
        float* dst = o + (q0 + r % bq) * q_stride + (g * group + r / bq) * d;
        std::memcpy(dst, &o_pack[r * d], static_cast<size_t>(d) * sizeof(float));
      }
    }
  }
}

void CpuBackend::Im2Patches(const Tensor& pixels, int patch, Tensor* y) {
  assert(IsF32(pixels) && IsF32(*y) && pixels.rank() == 4 && y->rank() == 2 && patch > 0);
  const int64_t n = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
  assert(h % patch == 0 && w % patch == 0);
  const int64_t ph = h / patch, pw = w / patch, pp = static_cast<int64_t>(patch) * patch;
  assert(y->dim(0) == n * ph * pw && y->dim(1) == c * pp);
  const float* in = pixels.f32();
  float* out = y->f32();
  ForRows(n * ph * pw, c * pp, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t img = r / (ph * pw), py = (r / pw) % ph, px = r % pw;
      float* dst = out + r * c * pp;
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t ky = 0; ky < patch; ++ky) {
          const float* src = in + ((img * c + ch) * h + py * patch + ky) * w + px * patch;
          std::memcpy(dst + ch * pp + ky * patch, src, static_cast<size_t>(patch) * sizeof(float));
        }
      }
    }
  });
}

}  // namespace drivelm::engine
