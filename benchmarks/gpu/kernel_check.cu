// kernel_check: every kernel of kernels/ against a naive double-precision CPU loop, on the GPU
// machine, built without Bazel (Makefile beside this file; CUDA, cuBLAS and the C++ standard
// library only). Prints PASS / FAIL per check and a summary; exits 1 if any check failed, 2 on a
// CUDA error. Runs under compute-sanitizer with --quick (smaller sizes).
//
//   kernel_check [--quick] [--seed N] [--json PATH]
//
// Method (/work/.library/device/METHOD.md): fresh random inputs every run (the seed is printed;
// --seed replays a draw), every output poisoned with NaN (0xff bytes) before the kernel runs,
// every element compared, NaN never passes (each check is !(|got - want| <= bound)).
//
// Tolerances, against exact (double) math, each relative to a stated magnitude:
// - data movement (gather, scatter, patches, broadcast): bit-exact;
// - elementwise (add, scale, embed: one rounding; GELU, soft-cap, RoPE: a few roundings and a
//   tanh / sin / cos rounded from double): 1e-6 of the magnitude (|want|, plus |x| for GELU,
//   whose 1 + tanh cancels for negative x; |x1| + |x2| of the rotated pair for RoPE). RoPE's
//   reference uses the float angle position * inv_freq, as transformers computes it in float;
// - reductions (RMSNorm, LayerNorm: the row's largest |y|; GEMM: sum_k |x w| + |b|): 1e-5, for
//   fp32 sums of up to a few thousand terms (~sqrt(K) u, u = 6e-8, with a wide margin);
// - attention: 1e-5 * max|v| * (1 + E), E = the largest possible |score| (scale * d * max|q| *
//   max|k|, or the soft-cap): a score error moves the softmax weights by the same relative amount,
//   and sums over hundreds of keys add ~sqrt(keys) u. A wrong mask moves outputs by
//   ~|v| / (visible keys), > 1e-3 in every case here.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/gpu/device_util.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/im2patches.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "kernels/rows.h"

namespace drivelm::gpu {
namespace {

struct Result {
  std::string name;
  bool pass = true;
  double worst = 0.0;  // largest |got - want| / bound (exact checks: 0)
  std::string detail;  // the first failing element
};

std::vector<Result> g_results;
bool g_quick = false;
std::mt19937 g_rng;

int64_t Size(int64_t full, int64_t quick) { return g_quick ? quick : full; }

std::vector<float> Random(int64_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(g_rng);
  return v;
}

void Report(const Result& r) {
  if (r.pass) {
    std::printf("PASS %-58s worst %.3g of tolerance\n", r.name.c_str(), r.worst);
  } else {
    std::printf("FAIL %-58s %s\n", r.name.c_str(), r.detail.c_str());
  }
  std::fflush(stdout);
  g_results.push_back(r);
}

// Passes iff every |got - want| <= tol * scale (NaN fails).
void Compare(const std::string& name, const std::vector<float>& got,
             const std::vector<double>& want, const std::vector<double>& scale, double tol) {
  Result r;
  r.name = name;
  if (got.size() != want.size() || scale.size() != want.size()) {
    r.pass = false;
    r.detail = "size mismatch";
    Report(r);
    return;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const double diff = std::abs(static_cast<double>(got[i]) - want[i]);
    const double bound = tol * scale[i];
    if (!(diff <= bound)) {
      if (r.pass) {
        char buf[256];
        std::snprintf(buf, sizeof(buf), "element %zu: got %.9g want %.9g |diff| %.3g bound %.3g", i,
                      got[i], want[i], diff, bound);
        r.detail = buf;
      }
      r.pass = false;
      r.worst = std::numeric_limits<double>::infinity();
    } else if (bound > 0) {
      r.worst = std::max(r.worst, diff / bound);
    }
  }
  Report(r);
}

void CompareRel(const std::string& name, const std::vector<float>& got,
                const std::vector<double>& want, double tol, double floor = 1e-30) {
  std::vector<double> scale(want.size());
  for (size_t i = 0; i < want.size(); ++i) scale[i] = std::max(std::abs(want[i]), floor);
  Compare(name, got, want, scale, tol);
}

template <typename T>
void CompareExact(const std::string& name, const std::vector<T>& got, const std::vector<T>& want) {
  Result r;
  r.name = name;
  if (got.size() != want.size()) {
    r.pass = false;
    r.detail = "size mismatch";
  }
  for (size_t i = 0; r.pass && i < want.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0) {
      r.pass = false;
      r.detail = "element " + std::to_string(i) + " differs";
    }
  }
  Report(r);
}

std::vector<double> RowMax(const std::vector<double>& v, int64_t cols) {
  std::vector<double> scale(v.size());
  for (size_t r = 0; r * cols < v.size(); ++r) {
    double m = 1e-30;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::abs(v[r * cols + c]));
    for (int64_t c = 0; c < cols; ++c) scale[r * cols + c] = m;
  }
  return scale;
}

double GeluRef(double x) {
  const double kBeta = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(kBeta * (x + 0.044715 * x * x * x)));
}

// ------------------------------------------------------------------------------ elementwise

void CheckElementwise() {
  const int64_t n = Size(100003, 5003);
  {
    const std::vector<float> y0 = Random(n), x = Random(n);
    DeviceArray<float> y(y0), dx(x);
    KERNEL_CHECK(kernels::AddF32(y.get(), dx.get(), n, n, nullptr));
    std::vector<double> want(n), scale(n);
    for (int64_t i = 0; i < n; ++i) {
      want[i] = double(y0[i]) + x[i];
      scale[i] = std::abs(y0[i]) + std::abs(x[i]);
    }
    Compare("AddF32 same shape", y.Get(), want, scale, 1e-6);
  }
  {
    const int64_t rows = 48, xrows = 16, cols = 1152;
    const std::vector<float> y0 = Random(rows * cols), x = Random(xrows * cols);
    DeviceArray<float> y(y0), dx(x);
    KERNEL_CHECK(kernels::AddF32(y.get(), dx.get(), rows * cols, xrows * cols, nullptr));
    std::vector<double> want(rows * cols), scale(rows * cols);
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float xi = x[((i / cols) % xrows) * cols + i % cols];
      want[i] = double(y0[i]) + xi;
      scale[i] = std::abs(y0[i]) + std::abs(xi);
    }
    Compare("AddF32 repeated rows", y.Get(), want, scale, 1e-6);
  }
  {
    const std::vector<float> y0 = Random(n, -50.0f, 50.0f);
    DeviceArray<float> y(y0);
    KERNEL_CHECK(kernels::ScaleF32(y.get(), 45.254833f, n, nullptr));
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = double(y0[i]) * 45.254833f;
    CompareRel("ScaleF32", y.Get(), want, 1e-6);
  }
  const std::vector<float> x = Random(n, -8.0f, 8.0f), up = Random(n, -2.0f, 2.0f);
  {
    DeviceArray<float> dx(x);
    KERNEL_CHECK(kernels::GeluTanhF32(dx.get(), n, nullptr));
    std::vector<double> want(n), scale(n);
    for (int64_t i = 0; i < n; ++i) {
      want[i] = GeluRef(x[i]);
      scale[i] = std::abs(want[i]) + std::abs(x[i]) + 1e-30;
    }
    Compare("GeluTanhF32", dx.Get(), want, scale, 1e-6);
  }
  {
    DeviceArray<float> g(x), u(up), y(n);
    y.Poison();
    KERNEL_CHECK(kernels::GeluTanhMulF32(g.get(), u.get(), y.get(), n, nullptr));
    std::vector<double> want(n), scale(n);
    for (int64_t i = 0; i < n; ++i) {
      const double gl = GeluRef(x[i]);
      want[i] = gl * up[i];
      scale[i] = (std::abs(gl) + std::abs(x[i])) * std::abs(up[i]) + 1e-30;
    }
    Compare("GeluTanhMulF32", y.Get(), want, scale, 1e-6);
    // In place over the gate (the decoder's MLP).
    KERNEL_CHECK(kernels::GeluTanhMulF32(g.get(), u.get(), g.get(), n, nullptr));
    Compare("GeluTanhMulF32 in place", g.Get(), want, scale, 1e-6);
  }
  {
    const std::vector<float> logits = Random(n, -200.0f, 200.0f);
    DeviceArray<float> dx(logits);
    KERNEL_CHECK(kernels::SoftCapF32(dx.get(), 30.0f, n, nullptr));
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = 30.0 * std::tanh(double(logits[i]) / 30.0);
    CompareRel("SoftCapF32", dx.Get(), want, 1e-6);
  }
  {
    const int64_t rows = 37, cols = 130;
    const std::vector<float> row = Random(cols);
    DeviceArray<float> dr(row), y(rows * cols);
    y.Poison();
    KERNEL_CHECK(kernels::BroadcastRowsF32(dr.get(), rows, cols, y.get(), nullptr));
    std::vector<float> want;
    for (int64_t r = 0; r < rows; ++r) want.insert(want.end(), row.begin(), row.end());
    CompareExact("BroadcastRowsF32", y.Get(), want);
  }
}

// ------------------------------------------------------------------------------------ norms

void CheckNorms() {
  const int64_t rows = 9;
  for (int64_t cols : {int64_t{1}, int64_t{7}, int64_t{256}, int64_t{2048}, Size(4099, 300)}) {
    for (float offset : {1.0f, 0.0f}) {
      const std::vector<float> x = Random(rows * cols, -3.0f, 3.0f), w = Random(cols);
      std::vector<double> want(rows * cols);
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0;
        for (int64_t c = 0; c < cols; ++c) ss += double(x[r * cols + c]) * x[r * cols + c];
        const double inv = 1.0 / std::sqrt(ss / cols + 1e-6);
        for (int64_t c = 0; c < cols; ++c) {
          want[r * cols + c] = x[r * cols + c] * inv * (double(offset) + w[c]);
        }
      }
      const std::string name = "RmsNormF32 cols " + std::to_string(cols) + " offset " +
                               std::to_string(static_cast<int>(offset));
      DeviceArray<float> dx(x), dw(w), y(rows * cols);
      y.Poison();
      KERNEL_CHECK(kernels::RmsNormF32(dx.get(), dw.get(), 1e-6f, offset, rows, cols, y.get(),
                                       nullptr));
      Compare(name, y.Get(), want, RowMax(want, cols), 1e-5);
      KERNEL_CHECK(kernels::RmsNormF32(dx.get(), dw.get(), 1e-6f, offset, rows, cols, dx.get(),
                                       nullptr));
      Compare(name + " in place", dx.Get(), want, RowMax(want, cols), 1e-5);
    }
  }
  for (int64_t cols : {int64_t{1}, int64_t{7}, int64_t{72}, int64_t{1152}, Size(4099, 300)}) {
    const std::vector<float> x = Random(rows * cols, 2.0f, 4.0f), w = Random(cols),
                             b = Random(cols);
    std::vector<double> want(rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += x[r * cols + c];
      const double mean = sum / cols;
      double m2 = 0;
      for (int64_t c = 0; c < cols; ++c) m2 += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
      const double rstd = 1.0 / std::sqrt(m2 / cols + 1e-6);
      for (int64_t c = 0; c < cols; ++c) {
        want[r * cols + c] = (x[r * cols + c] - mean) * rstd * w[c] + b[c];
      }
    }
    const std::string name = "LayerNormF32 cols " + std::to_string(cols);
    DeviceArray<float> dx(x), dw(w), db(b), y(rows * cols);
    y.Poison();
    KERNEL_CHECK(kernels::LayerNormF32(dx.get(), dw.get(), db.get(), 1e-6f, rows, cols, y.get(),
                                       nullptr));
    Compare(name, y.Get(), want, RowMax(want, cols), 1e-5);
    KERNEL_CHECK(kernels::LayerNormF32(dx.get(), dw.get(), db.get(), 1e-6f, rows, cols, dx.get(),
                                       nullptr));
    Compare(name + " in place", dx.Get(), want, RowMax(want, cols), 1e-5);
  }
}

// ------------------------------------------------------------------------------------- rope

void CheckRope() {
  {
    // inv_freq as transformers: 1 / theta^(2k/d), within float rounding of the exact value.
    const std::vector<float> inv = kernels::RopeInvFreq(10000.0f, 256);
    std::vector<double> want(inv.size());
    for (size_t k = 0; k < inv.size(); ++k) want[k] = std::pow(10000.0, -double(2 * k) / 256.0);
    CompareRel("RopeInvFreq theta 1e4 d 256", inv, want, 1e-6);
  }
  struct Case { int64_t tokens, heads, d; float theta; int32_t max_pos; };
  const Case cases[] = {{5, 1, 2, 10000.0f, 10},
                        {Size(37, 7), 8, 256, 10000.0f, 2000},
                        {19, 3, 102, 10000.0f, 70000},
                        {Size(300, 20), 2, 64, 500000.0f, 8191}};
  for (const Case& c : cases) {
    const int64_t half = c.d / 2;
    const std::vector<float> x = Random(c.tokens * c.heads * c.d, -3.0f, 3.0f);
    std::vector<int32_t> pos(static_cast<size_t>(c.tokens));
    std::uniform_int_distribution<int32_t> pick(0, c.max_pos);
    for (auto& p : pos) p = pick(g_rng);
    pos[0] = 0;
    const std::vector<float> inv = kernels::RopeInvFreq(c.theta, c.d);
    std::vector<double> want(x.size()), scale(x.size());
    for (int64_t t = 0; t < c.tokens; ++t) {
      for (int64_t k = 0; k < half; ++k) {
        const float angle = static_cast<float>(pos[t]) * inv[k];  // float, as transformers
        const double cs = std::cos(double(angle)), sn = std::sin(double(angle));
        for (int64_t h = 0; h < c.heads; ++h) {
          const int64_t o = (t * c.heads + h) * c.d;
          const double x1 = x[o + k], x2 = x[o + k + half];
          want[o + k] = x1 * cs - x2 * sn;
          want[o + k + half] = x2 * cs + x1 * sn;
          scale[o + k] = scale[o + k + half] = std::abs(x1) + std::abs(x2) + 1e-30;
        }
      }
    }
    DeviceArray<float> dx(x), dinv(inv);
    DeviceArray<int32_t> dpos(pos);
    KERNEL_CHECK(kernels::RopeF32(dx.get(), dpos.get(), dinv.get(), c.tokens, c.heads, c.d, nullptr));
    Compare("RopeF32 d " + std::to_string(c.d) + " heads " + std::to_string(c.heads), dx.Get(),
            want, scale, 1e-6);
  }
}

// ------------------------------------------------------------------------- gathers, copies

void CheckGathers() {
  {
    const int64_t vocab = 1000, hidden = 96;
    const std::vector<float> table = Random(vocab * hidden);
    std::vector<int32_t> ids = {0, 999, 5, 5, 123};
    std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
    for (int i = 0; i < 60; ++i) ids.push_back(pick(g_rng));
    const int64_t n = static_cast<int64_t>(ids.size());
    DeviceArray<float> dt(table), y(n * hidden);
    DeviceArray<int32_t> did(ids);
    y.Poison();
    KERNEL_CHECK(kernels::EmbedF32(dt.get(), did.get(), n, hidden, 45.254833f, y.get(), nullptr));
    std::vector<double> want(n * hidden);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < hidden; ++c) want[r * hidden + c] = double(table[ids[r] * hidden + c]) * 45.254833f;
    }
    CompareRel("EmbedF32", y.Get(), want, 1e-6);
  }
  {
    const int64_t n = 2, ch = 3, h = 28, w = 42, patch = 14;
    const std::vector<float> px = Random(n * ch * h * w);
    const int64_t ph = h / patch, pw = w / patch, cols = ch * patch * patch;
    DeviceArray<float> dpx(px), y(n * ph * pw * cols);
    y.Poison();
    KERNEL_CHECK(kernels::Im2PatchesF32(dpx.get(), n, ch, h, w, patch, y.get(), nullptr));
    std::vector<float> want(n * ph * pw * cols);
    for (int64_t img = 0; img < n; ++img)
      for (int64_t py = 0; py < ph; ++py)
        for (int64_t qx = 0; qx < pw; ++qx)
          for (int64_t c = 0; c < ch; ++c)
            for (int64_t ky = 0; ky < patch; ++ky)
              for (int64_t kx = 0; kx < patch; ++kx)
                want[((img * ph + py) * pw + qx) * cols + (c * patch + ky) * patch + kx] =
                    px[((img * ch + c) * h + py * patch + ky) * w + qx * patch + kx];
    CompareExact("Im2PatchesF32 2x3x28x42 patch 14", y.Get(), want);
  }
  // Row gather / scatter through each word width: 64-byte rows (16-byte words), 12-byte rows
  // (4-byte words), 6-byte rows (single bytes).
  for (int64_t row_bytes : {int64_t{64}, int64_t{12}, int64_t{6}}) {
    const int64_t pool_rows = 40, n = 5;
    std::vector<uint8_t> pool0(pool_rows * row_bytes), src(n * row_bytes);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : pool0) b = static_cast<uint8_t>(byte(g_rng));
    for (auto& b : src) b = static_cast<uint8_t>(byte(g_rng));
    const std::vector<int64_t> rows = {7, 0, 39, 3, 4};
    DeviceArray<uint8_t> dpool(pool0), dsrc(src);
    DeviceArray<int64_t> drows(rows);
    KERNEL_CHECK(kernels::ScatterRows(dsrc.get(), drows.get(), n, row_bytes, dpool.get(), nullptr));
    std::vector<uint8_t> want = pool0;
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(&want[rows[i] * row_bytes], &src[i * row_bytes], row_bytes);
    }
    CompareExact("ScatterRows row_bytes " + std::to_string(row_bytes), dpool.Get(), want);
    const std::vector<int64_t> back = {39, 39, 1, 0};
    DeviceArray<int64_t> dback(back);
    DeviceArray<uint8_t> out(back.size() * row_bytes);
    out.Poison();
    KERNEL_CHECK(kernels::GatherRows(dpool.get(), dback.get(), static_cast<int64_t>(back.size()),
                                     row_bytes, out.get(), nullptr));
    std::vector<uint8_t> want_g(back.size() * row_bytes);
    for (size_t i = 0; i < back.size(); ++i) {
      std::memcpy(&want_g[i * row_bytes], &want[back[i] * row_bytes], row_bytes);
    }
    CompareExact("GatherRows row_bytes " + std::to_string(row_bytes), out.Get(), want_g);
  }
}

// ----------------------------------------------------------------------------------- linear

void CheckLinear() {
  void* handle = nullptr;
  KERNEL_CHECK(kernels::CreateCublasHandle(nullptr, &handle));
  struct Case { int64_t m, k, n; bool bias; };
  const Case cases[] = {{1, 64, 33, false},   {1, 2048, 257, true},  {7, 5, 3, true},
                        {37, 300, 129, false}, {64, 1152, 96, true}, {130, 96, 520, true},
                        {3, 0, 5, true},      {3, 0, 5, false}};
  for (const Case& c : cases) {
    const std::vector<float> x = Random(c.m * c.k), w = Random(c.n * c.k), b = Random(c.n);
    DeviceArray<float> dx(x), dw(w), db(b), y(c.m * c.n);
    y.Poison();
    KERNEL_CHECK(kernels::LinearF32(handle, dx.get(), dw.get(), c.bias ? db.get() : nullptr, c.m,
                                    c.n, c.k, y.get()));
    std::vector<double> want(c.m * c.n), scale(c.m * c.n);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double s = c.bias ? b[j] : 0.0, mag = c.bias ? std::abs(b[j]) : 0.0;
        for (int64_t t = 0; t < c.k; ++t) {
          s += double(x[i * c.k + t]) * w[j * c.k + t];
          mag += std::abs(double(x[i * c.k + t]) * w[j * c.k + t]);
        }
        want[i * c.n + j] = s;
        scale[i * c.n + j] = std::max(mag, 1e-30);
      }
    }
    Compare("LinearF32 m " + std::to_string(c.m) + " k " + std::to_string(c.k) + " n " +
                std::to_string(c.n) + (c.bias ? " +bias" : ""),
            y.Get(), want, scale, 1e-5);
  }
  kernels::DestroyCublasHandle(handle);
}

// -------------------------------------------------------------------------------- attention

bool Visible(const kernels::AttentionMask& m, int64_t pos, int64_t j) {
  const bool base = j < m.prefix_len || (m.causal && j <= pos) || !m.causal;
  return base && (m.sliding_window <= 0 || pos - j < m.sliding_window);
}

// out [tq, hq, d] from q [tq, hq, d], k / v [tk, hkv, d] in double.
std::vector<double> AttentionRef(const std::vector<float>& q, const std::vector<float>& k,
                                 const std::vector<float>& v, int64_t tq, int64_t tk, int64_t hq,
                                 int64_t hkv, int64_t d, const kernels::AttentionMask& m) {
  std::vector<double> out(tq * hq * d, 0.0), s(tk);
  const int64_t group = hq / hkv;
  for (int64_t i = 0; i < tq; ++i) {
    const int64_t pos = m.q_start + i;
    for (int64_t h = 0; h < hq; ++h) {
      const int64_t g = h / group;
      double mx = -INFINITY;
      for (int64_t j = 0; j < tk; ++j) {
        if (!Visible(m, pos, j)) continue;
        double dot = 0;
        for (int64_t t = 0; t < d; ++t) dot += double(q[(i * hq + h) * d + t]) * k[(j * hkv + g) * d + t];
        dot *= m.scale;
        if (m.softcap > 0) dot = m.softcap * std::tanh(dot / m.softcap);
        s[j] = dot;
        mx = std::max(mx, dot);
      }
      if (mx == -INFINITY) continue;  // no visible key: zeros
      double sum = 0;
      for (int64_t j = 0; j < tk; ++j) {
        if (Visible(m, pos, j)) sum += (s[j] = std::exp(s[j] - mx));
      }
      for (int64_t j = 0; j < tk; ++j) {
        if (!Visible(m, pos, j)) continue;
        for (int64_t t = 0; t < d; ++t) out[(i * hq + h) * d + t] += s[j] / sum * v[(j * hkv + g) * d + t];
      }
    }
  }
  return out;
}

kernels::AttentionMask Mask(float scale, bool causal, int64_t q_start = 0, int64_t prefix_len = 0,
                            int64_t sliding_window = 0, float softcap = 0.0f) {
  kernels::AttentionMask m;
  m.scale = scale;
  m.causal = causal;
  m.q_start = q_start;
  m.prefix_len = prefix_len;
  m.sliding_window = sliding_window;
  m.softcap = softcap;
  return m;
}

double AttentionScale(const kernels::AttentionMask& m, int64_t d, float qk_range, double max_v) {
  double e = double(m.scale) * d * qk_range * qk_range;
  if (m.softcap > 0) e = std::min<double>(e, m.softcap);
  return std::max(max_v, 1e-30) * (1.0 + e);
}

void CheckAttention() {
  struct Case {
    std::string name;
    int64_t tq, tk, hq, hkv, d;
    kernels::AttentionMask m;
    float qk_range;
    bool expect_empty_rows;
  };
  const float s16 = 0.25f, s32 = 1.0f / std::sqrt(32.0f);
  std::vector<Case> cases = {
      {"full (SigLIP)", 37, 37, 3, 3, 16, Mask(s16, false), 1.f, false},
      {"full ignores prefix_len", 20, 20, 2, 2, 16, Mask(s16, false, 0, 5), 1.f, false},
      {"causal", 50, 50, 4, 2, 16, Mask(s16, true), 1.f, false},
      {"prefix in the middle, MQA", 70, 70, 8, 1, 16, Mask(s16, true, 0, 33), 1.f, false},
      {"decode one query", 1, 100, 8, 1, 32, Mask(s32, true, 99, 60), 1.f, false},
      {"decode GQA", 1, 37, 4, 2, 16, Mask(s16, true, 36, 20), 1.f, false},
      {"chunked prefill q_start > 0", 30, 70, 4, 2, 16, Mask(s16, true, 40, 50), 1.f, false},
      {"chunk inside the prefix", 20, 70, 4, 2, 16, Mask(s16, true, 10, 50), 1.f, false},
      {"sliding window with prefix", 90, 90, 4, 2, 16, Mask(s16, true, 0, 40, 16), 1.f, false},
      {"sliding window decode", 1, 90, 4, 2, 16, Mask(s16, true, 89, 40, 16), 1.f, false},
      {"sliding window, not causal", 40, 40, 2, 1, 16, Mask(s16, false, 0, 0, 7), 1.f, false},
      {"softcap", 40, 40, 4, 2, 16, Mask(s16, true, 0, 10, 0, 5.0f), 8.f, false},
      {"softcap + window + decode", 1, 60, 8, 1, 16, Mask(s16, true, 59, 10, 20, 5.0f), 8.f, false},
      {"peaky softmax", 33, 33, 2, 2, 16, Mask(s16, true), 12.f, false},
      {"Gemma head_dim 256, MQA", 40, 40, 8, 1, 256, Mask(1.0f / 16.0f, true, 0, 25), 1.f, false},
      {"one key", 5, 1, 2, 1, 8, Mask(0.5f, true), 1.f, false},
      {"odd head_dim", 9, 65, 3, 1, 33, Mask(0.2f, true, 56, 30), 1.f, false},
      {"no visible key", 3, 50, 4, 2, 16, Mask(0.25f, true, 100, 0, 10), 1.f, true},
      {"partly empty", 30, 50, 2, 1, 16, Mask(0.25f, true, 45, 0, 10), 1.f, true},
      {"no keys at all", 2, 0, 2, 1, 4, Mask(0.5f, true), 1.f, true},
  };
  if (!g_quick) {
    cases.push_back({"SigLIP shape", 256, 256, 16, 16, 72, Mask(1.0f / std::sqrt(72.0f), false),
                     1.f, false});
    cases.push_back({"many tiles, MQA", 600, 600, 8, 1, 32, Mask(s32, true, 0, 300), 1.f, false});
    cases.push_back({"many tiles, MHA, window", 600, 600, 2, 2, 32, Mask(s32, true, 0, 300, 100),
                     1.f, false});
  }
  for (const Case& c : cases) {
    const std::vector<float> q = Random(c.tq * c.hq * c.d, -c.qk_range, c.qk_range);
    const std::vector<float> k = Random(c.tk * c.hkv * c.d, -c.qk_range, c.qk_range);
    const std::vector<float> v = Random(c.tk * c.hkv * c.d);
    DeviceArray<float> dq(q), dk(k), dv(v), out(c.tq * c.hq * c.d);
    out.Poison();
    KERNEL_CHECK(kernels::AttentionF32(dq.get(), dk.get(), dv.get(), c.tq, c.tk, c.hq, c.hkv, c.d,
                                       c.m, out.get(), nullptr));
    const std::vector<double> want = AttentionRef(q, k, v, c.tq, c.tk, c.hq, c.hkv, c.d, c.m);
    double max_v = 0;
    for (float x : v) max_v = std::max<double>(max_v, std::abs(x));
    const std::vector<float> got = out.Get();
    Compare("AttentionF32 " + c.name, got, want,
            std::vector<double>(want.size(), AttentionScale(c.m, c.d, c.qk_range, max_v)), 1e-5);
    // Rows with no visible key are exactly zero, and the empty-row cases do have such rows.
    int64_t empty = 0;
    bool zeros_exact = true;
    for (int64_t r = 0; r < c.tq * c.hq; ++r) {
      const int64_t i = r / c.hq;
      bool any = false;
      for (int64_t j = 0; j < c.tk; ++j) any |= Visible(c.m, c.m.q_start + i, j);
      if (any) continue;
      ++empty;
      for (int64_t t = 0; t < c.d; ++t) zeros_exact &= got[r * c.d + t] == 0.0f;
    }
    Result r;
    r.name = "AttentionF32 " + c.name + " (empty rows exact zeros)";
    r.pass = zeros_exact && ((empty > 0) == c.expect_empty_rows);
    if (!r.pass) r.detail = "empty rows " + std::to_string(empty) + (zeros_exact ? "" : ", not zero");
    Report(r);
  }
}

void CheckPagedAttention() {
  const int64_t hq = 8, hkv = 1, d = 32, block = 4, num_blocks = 120;
  const float scale = 0.35f;
  // (kv_len, q_len, prefix_len, window, softcap): a prefill, a decode step, a partial block, a
  // chunk, a long decode, an empty sequence, a decode with soft-capping.
  struct Case { int64_t kv_len, q_len, prefix_len, window; float softcap; };
  const std::vector<Case> cases = {{13, 13, 13, 0, 0.f}, {21, 1, 17, 0, 0.f}, {6, 2, 4, 3, 0.f},
                                   {30, 9, 5, 8, 0.f},   {200, 1, 150, 0, 0.f}, {0, 0, 0, 0, 0.f},
                                   {40, 1, 20, 16, 5.f}};
  const int64_t pool_rows = num_blocks * block;
  std::vector<int32_t> free_blocks(num_blocks);
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), g_rng);
  std::vector<kernels::PagedSeq> seqs;
  std::vector<int32_t> tables;
  std::vector<std::vector<int64_t>> key_rows;  // per sequence: pool row of each key
  int64_t total_q = 0;
  for (const Case& c : cases) {
    kernels::PagedSeq s;
    s.q_begin = total_q;
    s.q_len = c.q_len;
    s.kv_len = c.kv_len;
    s.table_offset = static_cast<int64_t>(tables.size());
    s.mask = Mask(scale, true, c.kv_len - c.q_len, c.prefix_len, c.window, c.softcap);
    std::vector<int32_t> table;
    for (int64_t i = 0; i < (c.kv_len + block - 1) / block; ++i) {
      table.push_back(free_blocks.back());
      free_blocks.pop_back();
    }
    std::vector<int64_t> rows;
    for (int64_t t = 0; t < c.kv_len; ++t) rows.push_back(int64_t{table[t / block]} * block + t % block);
    key_rows.push_back(rows);
    tables.insert(tables.end(), table.begin(), table.end());
    seqs.push_back(s);
    total_q += c.q_len;
  }
  // One trailing query row no sequence owns: the kernel must leave it untouched.
  const int64_t q_rows = total_q + 1;
  std::vector<int32_t> row_seq(q_rows, -1);
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (int64_t r = seqs[i].q_begin; r < seqs[i].q_begin + seqs[i].q_len; ++r) row_seq[r] = int32_t(i);
  }
  const std::vector<float> q = Random(q_rows * hq * d);
  const std::vector<float> kp = Random(pool_rows * hkv * d), vp = Random(pool_rows * hkv * d);
  DeviceArray<float> dq(q), dk(kp), dv(vp), out(q_rows * hq * d);
  DeviceArray<kernels::PagedSeq> dseqs(seqs);
  DeviceArray<int32_t> drow(row_seq), dtables(tables);
  out.Poison();
  KERNEL_CHECK(kernels::PagedAttentionF32(dq.get(), dk.get(), dv.get(), block, q_rows, hq, hkv, d,
                                          dseqs.get(), drow.get(), dtables.get(), out.get(),
                                          nullptr));
  const std::vector<float> got = out.Get();
  const double mag = 1.0 + double(scale) * d;  // |v| <= 1; |score| <= scale * d
  for (size_t i = 0; i < seqs.size(); ++i) {
    const kernels::PagedSeq& s = seqs[i];
    if (s.q_len == 0) continue;
    // The sequence's keys and values gathered into contiguous rows.
    std::vector<float> k(s.kv_len * hkv * d), v(s.kv_len * hkv * d);
    for (int64_t t = 0; t < s.kv_len; ++t) {
      std::copy_n(&kp[key_rows[i][t] * hkv * d], hkv * d, &k[t * hkv * d]);
      std::copy_n(&vp[key_rows[i][t] * hkv * d], hkv * d, &v[t * hkv * d]);
    }
    const std::vector<float> qs(q.begin() + s.q_begin * hq * d, q.begin() + (s.q_begin + s.q_len) * hq * d);
    const std::vector<double> want = AttentionRef(qs, k, v, s.q_len, s.kv_len, hq, hkv, d, s.mask);
    const std::vector<float> part(got.begin() + s.q_begin * hq * d,
                                  got.begin() + (s.q_begin + s.q_len) * hq * d);
    Compare("PagedAttentionF32 sequence " + std::to_string(i) + " vs reference", part, want,
            std::vector<double>(want.size(), mag), 1e-5);
    // The contiguous kernel on the gathered rows: the same arithmetic, so rounding at most.
    DeviceArray<float> dqs(qs), dks(k), dvs(v), ref(qs.size());
    ref.Poison();
    KERNEL_CHECK(kernels::AttentionF32(dqs.get(), dks.get(), dvs.get(), s.q_len, s.kv_len, hq, hkv,
                                       d, s.mask, ref.get(), nullptr));
    const std::vector<float> contiguous = ref.Get();
    Compare("PagedAttentionF32 sequence " + std::to_string(i) + " vs contiguous kernel", part,
            std::vector<double>(contiguous.begin(), contiguous.end()),
            std::vector<double>(part.size(), mag), 1e-6);
  }
  // The unowned row is still poison (all bits set).
  const std::vector<float> last(got.end() - hq * d, got.end());
  bool untouched = true;
  for (float x : last) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    untouched &= bits == 0xffffffffu;
  }
  Result r;
  r.name = "PagedAttentionF32 leaves unowned rows untouched";
  r.pass = untouched;
  if (!untouched) r.detail = "the row no sequence owns was written";
  Report(r);
}

void WriteJson(const std::string& path, unsigned seed) {
  std::ofstream out(path);
  int failed = 0;
  for (const Result& r : g_results) failed += !r.pass;
  out << "{\n  \"seed\": " << seed << ",\n  \"quick\": " << (g_quick ? "true" : "false")
      << ",\n  \"passed\": " << g_results.size() - failed << ",\n  \"failed\": " << failed
      << ",\n  \"checks\": [\n";
  for (size_t i = 0; i < g_results.size(); ++i) {
    const Result& r = g_results[i];
    std::string detail;
    for (char ch : r.detail) detail += (ch == '"' || ch == '\\') ? ' ' : ch;
    out << "    {\"name\": \"" << r.name << "\", \"pass\": " << (r.pass ? "true" : "false")
        << ", \"worst_of_tolerance\": "
        << (std::isfinite(r.worst) ? std::to_string(r.worst) : std::string("null"))
        << ", \"detail\": \"" << detail << "\"}" << (i + 1 < g_results.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
}

}  // namespace
}  // namespace drivelm::gpu

int main(int argc, char** argv) {
  using namespace drivelm::gpu;
  unsigned seed = std::random_device{}();
  std::string json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      g_quick = true;
    } else if (a == "--seed" && i + 1 < argc) {
      seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--seed N] [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "kernel_check: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  DEVICE_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("kernel_check on %s (sm_%d%d), seed %u%s\n", prop.name, prop.major, prop.minor, seed,
              g_quick ? ", quick" : "");
  g_rng.seed(seed);
  CheckElementwise();
  CheckNorms();
  CheckRope();
  CheckGathers();
  CheckLinear();
  CheckAttention();
  CheckPagedAttention();
  int failed = 0;
  for (const Result& r : g_results) failed += !r.pass;
  std::printf("kernel_check: %zu passed, %d failed (seed %u)\n", g_results.size() - failed, failed,
              seed);
  if (!json.empty()) WriteJson(json, seed);
  return failed == 0 ? 0 : 1;
}
