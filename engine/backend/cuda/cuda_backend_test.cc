// CudaBackend against CpuBackend, op by op, on fresh random inputs (the seed is printed with
// every failure, so a failing draw can be replayed with DRIVELM_TEST_SEED=<seed>).
//
// Every op's output is poisoned with NaN before the GPU runs (in-place ops start from real data),
// every element is compared, and NaN never passes (each check is written as !(diff <= bound)).
//
// Tolerances, all relative to a stated magnitude. Both backends compute in fp32 (unit roundoff
// u = 6e-8); where they round the same steps the same way the results are bit-identical and the
// test says so (memory, Add, Scale, Embed, rows, patches: exact).
// - Elementwise with transcendental functions (GELU, soft-cap, RoPE): 1e-6 of the magnitude. The
//   GPU rounds each step as the CPU does and evaluates tanh / sin / cos in double before
//   rounding to float, so they differ by at most an ulp or two on near-ties. GELU's magnitude
//   includes |x| because 1 + tanh(inner) cancels for negative x, where an ulp of tanh is large
//   relative to the result.
// - Reductions (norms, GEMM): 1e-5. The two sides sum in different orders (the CPU in double for
//   norms, OpenBLAS blocks for GEMM; the GPU in float trees, cuBLAS tiles), so results differ by
//   up to ~sqrt(K) u of the summed magnitude. GEMM's magnitude is sum_k |x||w| + |b| per
//   element; a norm's is the largest |y| of its row.
// - Attention: 1e-5 * max|v| * (1 + E), E = the largest possible |score| (scale * d * max|q| *
//   max|k|, or the soft-cap). A score error shifts the softmax weights by the same relative amount,
//   and the sums over up to hundreds of keys (exp, normalizer, p . V) add ~sqrt(keys) u each: a bit
//   looser than the norms. A wrong mask moves an output by ~|v| / visible keys (> 1e-3 here).
#include "engine/backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

unsigned TestSeed() {
  const char* env = std::getenv("DRIVELM_TEST_SEED");
  if (env != nullptr && *env != '\0') return static_cast<unsigned>(std::strtoul(env, nullptr, 10));
  return std::random_device{}();
}

// !(|a - b| <= tol * scale[i]) fails, NaN included.
void ExpectClose(const std::vector<float>& gpu, const std::vector<float>& cpu,
                 const std::vector<double>& scale, double tol, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  ASSERT_EQ(scale.size(), cpu.size()) << what;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double diff = std::abs(static_cast<double>(gpu[i]) - static_cast<double>(cpu[i]));
    const double bound = tol * scale[i];
    ASSERT_TRUE(diff <= bound) << what << ": element " << i << " gpu " << gpu[i] << " cpu "
                               << cpu[i] << " |diff| " << diff << " bound " << bound;
  }
}

// Relative check: the magnitude is |cpu| (at least `floor`).
void ExpectRel(const std::vector<float>& gpu, const std::vector<float>& cpu, double tol,
               const std::string& what, double floor = 1e-6) {
  std::vector<double> scale(cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) scale[i] = std::max<double>(std::abs(cpu[i]), floor);
  ExpectClose(gpu, cpu, scale, tol, what);
}

// Bit-identical, NaN never equal.
void ExpectExact(const std::vector<float>& gpu, const std::vector<float>& cpu,
                 const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  for (size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_FALSE(std::isnan(gpu[i])) << what << ": element " << i << " is NaN";
    ASSERT_EQ(std::memcmp(&gpu[i], &cpu[i], 4), 0)
        << what << ": element " << i << " gpu " << gpu[i] << " cpu " << cpu[i];
  }
}

// The magnitude of each row's elements: the row's largest |value|.
std::vector<double> RowMax(const std::vector<float>& v, int64_t cols) {
  std::vector<double> scale(v.size());
  for (size_t r = 0; r * cols < v.size(); ++r) {
    double m = 1e-30;
    for (int64_t c = 0; c < cols; ++c) m = std::max<double>(m, std::abs(v[r * cols + c]));
    for (int64_t c = 0; c < cols; ++c) scale[r * cols + c] = m;
  }
  return scale;
}

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gpu = CudaBackend::Create();
    // DRIVELM_REQUIRE_GPU=1 (benchmarks/gpu/run_device.sh): no device is a failure, not a skip.
    if (!gpu.ok() && std::getenv("DRIVELM_REQUIRE_GPU") != nullptr) {
      FAIL() << "DRIVELM_REQUIRE_GPU is set but: " << gpu.status();
    }
    if (!gpu.ok()) GTEST_SKIP() << "no CUDA device: " << gpu.status();
    gpu_ = std::move(*gpu);
    seed_ = TestSeed();
    rng_.seed(seed_);
    RecordProperty("seed", std::to_string(seed_));
  }

  std::string Seed() const { return "seed " + std::to_string(seed_); }

  std::vector<float> Random(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng_);
    return v;
  }
  Tensor Cpu(const Shape& shape, const std::vector<float>& v) {
    EXPECT_EQ(NumElements(shape), static_cast<int64_t>(v.size()));
    return cpu_.Upload(DType::kF32, shape, v.data());
  }
  Tensor Gpu(const Shape& shape, const std::vector<float>& v) {
    EXPECT_EQ(NumElements(shape), static_cast<int64_t>(v.size()));
    Tensor t = gpu_->Upload(DType::kF32, shape, v.data());
    EXPECT_EQ(t.device(), Device::kCuda);
    return t;
  }
  // An output tensor full of NaN: an element the op does not write cannot pass.
  Tensor Poisoned(const Shape& shape) {
    return Gpu(shape, std::vector<float>(static_cast<size_t>(NumElements(shape)),
                                         std::numeric_limits<float>::quiet_NaN()));
  }
  std::vector<float> Get(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    if (t.device() == Device::kCuda) {
      gpu_->DownloadF32(t, v.data());
    } else {
      cpu_.DownloadF32(t, v.data());
    }
    return v;
  }

  CpuBackend cpu_{2};
  std::unique_ptr<CudaBackend> gpu_;
  unsigned seed_ = 0;
  std::mt19937 rng_;
};

// ------------------------------------------------------------------------------- Memory

TEST_F(CudaBackendTest, CreateRejectsAMissingDevice) {
  auto none = CudaBackend::Create(1 << 20);
  EXPECT_FALSE(none.ok());
  EXPECT_NE(std::string(none.status().message()).find("requested"), std::string::npos)
      << none.status();
}

TEST_F(CudaBackendTest, UploadDownloadEveryDtype) {
  SCOPED_TRACE(Seed());
  std::vector<float> f = Random(1001, -100.0f, 100.0f);
  f[3] = std::numeric_limits<float>::infinity();
  f[4] = -0.0f;
  f[5] = std::numeric_limits<float>::denorm_min();
  Tensor t = Gpu({7, 11, 13}, f);
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_EQ(t.shape(), (Shape{7, 11, 13}));
  ExpectExact(Get(t), f, "f32");

  std::vector<int32_t> ids = {0, -1, 257152, std::numeric_limits<int32_t>::max(), 42};
  Tensor it = gpu_->Upload(DType::kI32, {5}, ids.data());
  EXPECT_EQ(it.dtype(), DType::kI32);
  ExpectExact(Get(it), Get(cpu_.Upload(DType::kI32, {5}, ids.data())), "i32");

  // Every 16-bit pattern of bf16 and f16 widens exactly as on the CPU (NaN stays NaN).
  std::vector<uint16_t> bits(65536);
  std::iota(bits.begin(), bits.end(), 0);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    Tensor g = gpu_->Upload(dtype, {256, 256}, bits.data());
    Tensor c = cpu_.Upload(dtype, {256, 256}, bits.data());
    ASSERT_EQ(g.dtype(), DType::kF32) << DTypeName(dtype);
    const std::vector<float> gv = Get(g), cv = Get(c);
    for (size_t i = 0; i < gv.size(); ++i) {
      if (std::isnan(cv[i])) {
        ASSERT_TRUE(std::isnan(gv[i])) << DTypeName(dtype) << " bits " << i;
      } else {
        ASSERT_EQ(std::memcmp(&gv[i], &cv[i], 4), 0) << DTypeName(dtype) << " bits " << i;
      }
    }
  }
  // Empty() of a 16-bit dtype stays that dtype; DownloadF32 widens it.
  Tensor h = gpu_->Empty(DType::kBF16, {3});
  EXPECT_EQ(h.dtype(), DType::kBF16);
  EXPECT_EQ(h.device(), Device::kCuda);
  Tensor zero = gpu_->Empty(DType::kF32, {0, 5});
  EXPECT_FALSE(zero.empty());
  EXPECT_EQ(Get(zero).size(), 0u);
}

TEST_F(CudaBackendTest, CopyRowsWritesOnlyTheTargetRows) {
  SCOPED_TRACE(Seed());
  const std::vector<float> dst0 = Random(10 * 6), src = Random(3 * 6);
  Tensor g = Gpu({10, 6}, dst0), c = Cpu({10, 6}, dst0);
  gpu_->CopyRows(Gpu({3, 6}, src), &g, 4);
  cpu_.CopyRows(Cpu({3, 6}, src), &c, 4);
  ExpectExact(Get(g), Get(c), "CopyRows");
  // Overlapping rows of one tensor: memmove semantics, as on the CPU.
  gpu_->CopyRows(g.Rows(2, 8), &g, 3);
  cpu_.CopyRows(c.Rows(2, 8), &c, 3);
  ExpectExact(Get(g), Get(c), "CopyRows overlapping");
  gpu_->CopyRows(g.Rows(3, 9), &g, 1);
  cpu_.CopyRows(c.Rows(3, 9), &c, 1);
  ExpectExact(Get(g), Get(c), "CopyRows overlapping backwards");
}

// ----------------------------------------------------------------------------------- Dense

TEST_F(CudaBackendTest, LinearMatchesCpu) {
  SCOPED_TRACE(Seed());
  struct Case { int64_t m, k, n; bool bias; };
  const Case cases[] = {{1, 64, 33, false},    {1, 2048, 257, true}, {7, 5, 3, true},
                        {37, 300, 129, false}, {64, 1152, 96, true}, {130, 96, 520, true}};
  for (const Case& c : cases) {
    const std::string what = "Linear m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) +
                             " n=" + std::to_string(c.n);
    const std::vector<float> x = Random(c.m * c.k), w = Random(c.n * c.k), b = Random(c.n);
    Tensor cy = cpu_.Empty(DType::kF32, {c.m, c.n});
    Tensor cb = Cpu({c.n}, b);
    cpu_.Linear(Cpu({c.m, c.k}, x), Cpu({c.n, c.k}, w), c.bias ? &cb : nullptr, &cy);
    Tensor gy = Poisoned({c.m, c.n});
    Tensor gb = Gpu({c.n}, b);
    gpu_->Linear(Gpu({c.m, c.k}, x), Gpu({c.n, c.k}, w), c.bias ? &gb : nullptr, &gy);
    std::vector<double> scale(static_cast<size_t>(c.m * c.n));
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double s = c.bias ? std::abs(b[j]) : 0.0;
        for (int64_t t = 0; t < c.k; ++t) s += std::abs(double(x[i * c.k + t]) * w[j * c.k + t]);
        scale[i * c.n + j] = std::max(s, 1e-30);
      }
    }
    ExpectClose(Get(gy), Get(cy), scale, 1e-5, what);
  }
}

TEST_F(CudaBackendTest, LinearWithEmptyReductionIsBiasOrZero) {
  SCOPED_TRACE(Seed());
  const std::vector<float> b = Random(5);
  Tensor gb = Gpu({5}, b);
  Tensor x = gpu_->Empty(DType::kF32, {3, 0}), w = gpu_->Empty(DType::kF32, {5, 0});
  Tensor y = Poisoned({3, 5});
  gpu_->Linear(x, w, &gb, &y);
  std::vector<float> want;
  for (int r = 0; r < 3; ++r) want.insert(want.end(), b.begin(), b.end());
  ExpectExact(Get(y), want, "Linear k=0 with bias");
  Tensor z = Poisoned({3, 5});
  gpu_->Linear(x, w, nullptr, &z);
  ExpectExact(Get(z), std::vector<float>(15, 0.0f), "Linear k=0 without bias");
}

// ------------------------------------------------------------------ Elementwise / norms

TEST_F(CudaBackendTest, AddInPlaceSameShapeAndRepeatedRows) {
  SCOPED_TRACE(Seed());
  const std::vector<float> y0 = Random(12 * 35), x = Random(12 * 35), xr = Random(3 * 35);
  Tensor g = Gpu({12, 35}, y0), c = Cpu({12, 35}, y0);
  gpu_->AddInPlace(&g, Gpu({12, 35}, x));
  cpu_.AddInPlace(&c, Cpu({12, 35}, x));
  ExpectExact(Get(g), Get(c), "Add same shape");
  // Position embeddings [patches, hidden] over [images * patches, hidden].
  gpu_->AddInPlace(&g, Gpu({3, 35}, xr));
  cpu_.AddInPlace(&c, Cpu({3, 35}, xr));
  ExpectExact(Get(g), Get(c), "Add repeated rows");
}

TEST_F(CudaBackendTest, ScaleInPlace) {
  SCOPED_TRACE(Seed());
  const std::vector<float> y0 = Random(4099, -50.0f, 50.0f);
  Tensor g = Gpu({4099}, y0), c = Cpu({4099}, y0);
  gpu_->ScaleInPlace(&g, 45.254833f);
  cpu_.ScaleInPlace(&c, 45.254833f);
  ExpectExact(Get(g), Get(c), "Scale");
}

TEST_F(CudaBackendTest, RmsNormMatchesCpu) {
  SCOPED_TRACE(Seed());
  for (int64_t cols : {1, 7, 256, 2048, 4099}) {
    for (float offset : {1.0f, 0.0f}) {
      const int64_t rows = 9;
      const std::vector<float> x = Random(rows * cols, -3.0f, 3.0f), w = Random(cols);
      const std::string what = "RmsNorm cols " + std::to_string(cols) + " offset " +
                               std::to_string(offset);
      Tensor cy = cpu_.Empty(DType::kF32, {rows, cols});
      cpu_.RmsNorm(Cpu({rows, cols}, x), Cpu({cols}, w), 1e-6f, offset, &cy);
      const std::vector<float> want = Get(cy);
      Tensor gy = Poisoned({rows, cols});
      Tensor gw = Gpu({cols}, w);
      gpu_->RmsNorm(Gpu({rows, cols}, x), gw, 1e-6f, offset, &gy);
      ExpectClose(Get(gy), want, RowMax(want, cols), 1e-5, what);
      // In place (the decoder normalizes its projection output onto itself).
      Tensor gx = Gpu({rows, cols}, x);
      gpu_->RmsNorm(gx, gw, 1e-6f, offset, &gx);
      ExpectClose(Get(gx), want, RowMax(want, cols), 1e-5, what + " in place");
    }
  }
}

TEST_F(CudaBackendTest, LayerNormMatchesCpu) {
  SCOPED_TRACE(Seed());
  for (int64_t cols : {1, 7, 72, 1152, 4099}) {
    const int64_t rows = 9;
    // A mean far from zero: the centering must be done in the right order.
    const std::vector<float> x = Random(rows * cols, 2.0f, 4.0f), w = Random(cols),
                             b = Random(cols);
    const std::string what = "LayerNorm cols " + std::to_string(cols);
    Tensor cy = cpu_.Empty(DType::kF32, {rows, cols});
    cpu_.LayerNorm(Cpu({rows, cols}, x), Cpu({cols}, w), Cpu({cols}, b), 1e-6f, &cy);
    const std::vector<float> want = Get(cy);
    Tensor gy = Poisoned({rows, cols});
    Tensor gw = Gpu({cols}, w), gb = Gpu({cols}, b);
    gpu_->LayerNorm(Gpu({rows, cols}, x), gw, gb, 1e-6f, &gy);
    ExpectClose(Get(gy), want, RowMax(want, cols), 1e-5, what);
    Tensor gx = Gpu({rows, cols}, x);
    gpu_->LayerNorm(gx, gw, gb, 1e-6f, &gx);  // SigLIP's post_layernorm runs in place
    ExpectClose(Get(gx), want, RowMax(want, cols), 1e-5, what + " in place");
  }
}

TEST_F(CudaBackendTest, GeluTanhAndGeluTanhMul) {
  SCOPED_TRACE(Seed());
  const int64_t n = 100003;
  const std::vector<float> x = Random(n, -8.0f, 8.0f), up = Random(n, -2.0f, 2.0f);
  Tensor c = Cpu({n}, x), g = Gpu({n}, x);
  cpu_.GeluTanh(&c);
  gpu_->GeluTanh(&g);
  const std::vector<float> want = Get(c);
  std::vector<double> scale(n);
  for (int64_t i = 0; i < n; ++i) scale[i] = std::abs(want[i]) + std::abs(x[i]) + 1e-30;
  ExpectClose(Get(g), want, scale, 1e-6, "GeluTanh");

  Tensor cy = cpu_.Empty(DType::kF32, {n});
  cpu_.GeluTanhMul(Cpu({n}, x), Cpu({n}, up), &cy);
  const std::vector<float> want_mul = Get(cy);
  Tensor gy = Poisoned({n});
  gpu_->GeluTanhMul(Gpu({n}, x), Gpu({n}, up), &gy);
  for (int64_t i = 0; i < n; ++i) {
    scale[i] = (std::abs(want[i]) + std::abs(x[i])) * std::abs(up[i]) + 1e-30;
  }
  ExpectClose(Get(gy), want_mul, scale, 1e-6, "GeluTanhMul");
  // In place over the gate, as the decoder's MLP calls it.
  Tensor gg = Gpu({n}, x);
  gpu_->GeluTanhMul(gg, Gpu({n}, up), &gg);
  ExpectClose(Get(gg), want_mul, scale, 1e-6, "GeluTanhMul in place");
}

TEST_F(CudaBackendTest, SoftCapInPlace) {
  SCOPED_TRACE(Seed());
  const int64_t n = 50001;
  const std::vector<float> x = Random(n, -200.0f, 200.0f);
  Tensor c = Cpu({n}, x), g = Gpu({n}, x);
  cpu_.SoftCapInPlace(&c, 30.0f);
  gpu_->SoftCapInPlace(&g, 30.0f);
  ExpectRel(Get(g), Get(c), 1e-6, "SoftCap");
}

// ------------------------------------------------------------------- Transformer pieces

TEST_F(CudaBackendTest, EmbedGathersAndScales) {
  SCOPED_TRACE(Seed());
  const int64_t vocab = 1000, hidden = 96;
  const std::vector<float> table = Random(vocab * hidden);
  std::vector<int32_t> ids = {0, 999, 5, 5, 123};
  std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
  for (int i = 0; i < 60; ++i) ids.push_back(pick(rng_));
  const int64_t n = static_cast<int64_t>(ids.size());
  Tensor cy = cpu_.Empty(DType::kF32, {n, hidden});
  cpu_.Embed(Cpu({vocab, hidden}, table), ids, 45.254833f, &cy);
  Tensor gy = Poisoned({n, hidden});
  gpu_->Embed(Gpu({vocab, hidden}, table), ids, 45.254833f, &gy);
  ExpectExact(Get(gy), Get(cy), "Embed");
}

TEST_F(CudaBackendTest, RopeMatchesCpu) {
  SCOPED_TRACE(Seed());
  struct Case { int64_t tokens, heads, d; float theta; int32_t max_pos; };
  const Case cases[] = {{5, 1, 2, 10000.0f, 10},
                        {37, 8, 256, 10000.0f, 2000},
                        {19, 3, 102, 10000.0f, 70000},
                        {300, 2, 64, 500000.0f, 8191}};
  for (const Case& c : cases) {
    const std::string what = "Rope d " + std::to_string(c.d);
    const std::vector<float> x = Random(c.tokens * c.heads * c.d, -3.0f, 3.0f);
    std::vector<int32_t> pos(static_cast<size_t>(c.tokens));
    std::uniform_int_distribution<int32_t> pick(0, c.max_pos);
    for (auto& p : pos) p = pick(rng_);
    pos[0] = 0;
    Tensor ct = Cpu({c.tokens, c.heads, c.d}, x), gt = Gpu({c.tokens, c.heads, c.d}, x);
    cpu_.Rope(&ct, pos, c.theta);
    gpu_->Rope(&gt, pos, c.theta);
    // Magnitude of an output element: |x1| + |x2| of its pair.
    std::vector<double> scale(x.size());
    const int64_t half = c.d / 2;
    for (size_t row = 0; row * c.d < x.size(); ++row) {
      for (int64_t i = 0; i < half; ++i) {
        const double m = std::abs(x[row * c.d + i]) + std::abs(x[row * c.d + i + half]) + 1e-30;
        scale[row * c.d + i] = scale[row * c.d + i + half] = m;
      }
    }
    ExpectClose(Get(gt), Get(ct), scale, 1e-6, what);
  }
}

AttentionParams Params(float scale, bool causal, int64_t q_start = 0, int64_t prefix_len = 0,
                       int64_t sliding_window = 0, float softcap = 0.0f) {
  AttentionParams p;
  p.scale = scale;
  p.causal = causal;
  p.q_start = q_start;
  p.prefix_len = prefix_len;
  p.sliding_window = sliding_window;
  p.softcap = softcap;
  return p;
}

struct AttnCase {
  std::string name;
  int64_t tq, tk, hq, hkv, d;
  AttentionParams p;
  float qk_range = 1.0f;  // q and k drawn from [-qk_range, qk_range]
};

class CudaAttentionTest : public CudaBackendTest {
 protected:
  // Runs one case on both backends; returns the number of (row, head) outputs that are all zero
  // on the CPU (queries with no visible key), which must be exactly zero on the GPU too.
  int RunCase(const AttnCase& c) {
    const std::vector<float> q = Random(c.tq * c.hq * c.d, -c.qk_range, c.qk_range);
    const std::vector<float> k = Random(c.tk * c.hkv * c.d, -c.qk_range, c.qk_range);
    const std::vector<float> v = Random(c.tk * c.hkv * c.d);
    Tensor co = cpu_.Empty(DType::kF32, {c.tq, c.hq, c.d});
    cpu_.Attention(Cpu({c.tq, c.hq, c.d}, q), Cpu({c.tk, c.hkv, c.d}, k),
                   Cpu({c.tk, c.hkv, c.d}, v), c.p, &co);
    Tensor go = Poisoned({c.tq, c.hq, c.d});
    gpu_->Attention(Gpu({c.tq, c.hq, c.d}, q), Gpu({c.tk, c.hkv, c.d}, k),
                    Gpu({c.tk, c.hkv, c.d}, v), c.p, &go);
    const std::vector<float> want = Get(co), got = Get(go);
    double max_v = 0;
    for (float x : v) max_v = std::max<double>(max_v, std::abs(x));
    double e = double(c.p.scale) * c.d * c.qk_range * c.qk_range;
    if (c.p.softcap > 0) e = std::min<double>(e, c.p.softcap);
    const std::vector<double> scale(want.size(), std::max(max_v, 1e-30) * (1.0 + e));
    ExpectClose(got, want, scale, 1e-5, "Attention " + c.name);
    int empty_rows = 0;
    for (int64_t r = 0; r < c.tq * c.hq; ++r) {
      bool all_zero = true;
      for (int64_t t = 0; t < c.d; ++t) all_zero &= want[r * c.d + t] == 0.0f;
      if (!all_zero) continue;
      ++empty_rows;
      for (int64_t t = 0; t < c.d; ++t) {
        EXPECT_EQ(got[r * c.d + t], 0.0f) << c.name << ": row " << r << " must be zeros";
      }
    }
    return empty_rows;
  }
};

TEST_F(CudaAttentionTest, AllMaskModes) {
  SCOPED_TRACE(Seed());
  const float s16 = 0.25f, s32 = 1.0f / std::sqrt(32.0f);
  const AttnCase cases[] = {
      {"full (SigLIP)", 37, 37, 3, 3, 16, Params(s16, false)},
      {"SigLIP shape", 256, 256, 16, 16, 72, Params(1.0f / std::sqrt(72.0f), false)},
      {"full ignores prefix_len", 20, 20, 2, 2, 16, Params(s16, false, 0, 5)},
      {"causal", 50, 50, 4, 2, 16, Params(s16, true)},
      {"prefix in the middle, MQA", 70, 70, 8, 1, 16, Params(s16, true, 0, 33)},
      {"decode one query", 1, 100, 8, 1, 32, Params(s32, true, 99, 60)},
      {"decode GQA", 1, 37, 4, 2, 16, Params(s16, true, 36, 20)},
      {"chunked prefill q_start > 0", 30, 70, 4, 2, 16, Params(s16, true, 40, 50)},
      {"chunk inside the prefix", 20, 70, 4, 2, 16, Params(s16, true, 10, 50)},
      {"sliding window with prefix", 90, 90, 4, 2, 16, Params(s16, true, 0, 40, 16)},
      {"sliding window decode", 1, 90, 4, 2, 16, Params(s16, true, 89, 40, 16)},
      {"sliding window, not causal", 40, 40, 2, 1, 16, Params(s16, false, 0, 0, 7)},
      {"softcap", 40, 40, 4, 2, 16, Params(s16, true, 0, 10, 0, 5.0f), 8.0f},
      {"softcap + window + decode", 1, 60, 8, 1, 16, Params(s16, true, 59, 10, 20, 5.0f), 8.0f},
      {"peaky softmax", 33, 33, 2, 2, 16, Params(s16, true, 0, 0), 12.0f},
      {"Gemma head_dim 256, MQA", 40, 40, 8, 1, 256, Params(1.0f / 16.0f, true, 0, 25)},
      {"many tiles, MQA", 600, 600, 8, 1, 32, Params(s32, true, 0, 300)},
      {"many tiles, MHA, window", 600, 600, 2, 2, 32, Params(s32, true, 0, 300, 100)},
      {"one key", 5, 1, 2, 1, 8, Params(0.5f, true, 0, 0)},
      {"odd head_dim", 9, 65, 3, 1, 33, Params(0.2f, true, 56, 30)},
  };
  for (const AttnCase& c : cases) {
    EXPECT_EQ(RunCase(c), 0) << c.name;
  }
}

TEST_F(CudaAttentionTest, QueryWithNoVisibleKeyGetsZeros) {
  SCOPED_TRACE(Seed());
  AttnCase none{"no visible key", 3, 50, 4, 2, 16, Params(0.25f, true, 100, 0, 10)};
  EXPECT_EQ(RunCase(none), 3 * 4);
  AttnCase partial{"partly empty", 30, 50, 2, 1, 16, Params(0.25f, true, 45, 0, 10)};
  EXPECT_GT(RunCase(partial), 0);
  // No keys at all.
  Tensor out = Poisoned({2, 2, 4});
  gpu_->Attention(Gpu({2, 2, 4}, Random(16)), gpu_->Empty(DType::kF32, {0, 1, 4}),
                  gpu_->Empty(DType::kF32, {0, 1, 4}), Params(0.5f, true), &out);
  ExpectExact(Get(out), std::vector<float>(16, 0.0f), "no keys");
}

// -------------------------------------------------------------------------------- Paged KV

TEST_F(CudaBackendTest, ScatterThenGatherRowsMatchCpu) {
  SCOPED_TRACE(Seed());
  const std::vector<float> src = Random(5 * 2 * 8), pool0 = Random(40 * 2 * 8);
  const std::vector<int64_t> rows = {7, 0, 39, 3, 4};
  Tensor gp = Gpu({40, 2, 8}, pool0), cp = Cpu({40, 2, 8}, pool0);
  gpu_->ScatterRows(Gpu({5, 2, 8}, src), rows, &gp);
  cpu_.ScatterRows(Cpu({5, 2, 8}, src), rows, &cp);
  ExpectExact(Get(gp), Get(cp), "ScatterRows");
  const std::vector<int64_t> back = {39, 39, 1, 0};
  Tensor gg = Poisoned({4, 2, 8});
  Tensor cg = cpu_.Empty(DType::kF32, {4, 2, 8});
  gpu_->GatherRows(gp, back, &gg);
  cpu_.GatherRows(cp, back, &cg);
  ExpectExact(Get(gg), Get(cg), "GatherRows");
  // Rows of 3 floats (12 bytes): the 4-byte word path of the kernel.
  const std::vector<float> narrow = Random(6 * 3);
  Tensor gn = Poisoned({2, 3});
  gpu_->GatherRows(Gpu({6, 3}, narrow), std::vector<int64_t>{5, 2}, &gn);
  ExpectExact(Get(gn), {narrow[15], narrow[16], narrow[17], narrow[6], narrow[7], narrow[8]},
              "GatherRows 12-byte rows");
}

TEST_F(CudaBackendTest, PagedAttentionMatchesCpuAndContiguous) {
  SCOPED_TRACE(Seed());
  const int64_t hq = 8, hkv = 1, d = 32, block = 4, num_blocks = 120;
  // (kv_len, q_len, prefix_len, window, softcap): a prefill, a decode step, a partial block, a
  // chunk, a long decode, an empty sequence, a decode with soft-capping.
  struct Case { int64_t kv_len, q_len, prefix_len, window; float softcap; };
  const std::vector<Case> cases = {{13, 13, 13, 0, 0.f}, {21, 1, 17, 0, 0.f}, {6, 2, 4, 3, 0.f},
                                   {30, 9, 5, 8, 0.f},   {200, 1, 150, 0, 0.f}, {0, 0, 0, 0, 0.f},
                                   {40, 1, 20, 16, 5.f}};
  int64_t total_q = 0;
  for (const Case& c : cases) total_q += c.q_len;
  const std::vector<float> q = Random(total_q * hq * d);
  const std::vector<float> k0 = Random(num_blocks * block * hkv * d);
  const std::vector<float> v0 = Random(num_blocks * block * hkv * d);
  Tensor gk = Gpu({num_blocks * block, hkv, d}, k0), gv = Gpu({num_blocks * block, hkv, d}, v0);
  Tensor ck = Cpu({num_blocks * block, hkv, d}, k0), cv = Cpu({num_blocks * block, hkv, d}, v0);
  std::vector<int32_t> free_blocks(num_blocks);
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng_);

  std::vector<std::vector<int32_t>> tables;
  std::vector<PagedSequence> seqs;
  int64_t q_begin = 0;
  for (const Case& c : cases) {
    std::vector<int32_t> table;
    for (int64_t i = 0; i < (c.kv_len + block - 1) / block; ++i) {
      table.push_back(free_blocks.back());
      free_blocks.pop_back();
    }
    tables.push_back(table);
    PagedSequence s;
    s.q_begin = q_begin;
    s.q_len = c.q_len;
    s.kv_len = c.kv_len;
    s.params.scale = 0.35f;
    s.params.softcap = c.softcap;
    s.params.q_start = c.kv_len - c.q_len;
    s.params.prefix_len = c.prefix_len;
    s.params.sliding_window = c.window;
    seqs.push_back(s);
    q_begin += c.q_len;
  }
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i].block_table = tables[i];

  Tensor co = cpu_.Empty(DType::kF32, {total_q, hq, d});
  cpu_.PagedAttention(Cpu({total_q, hq, d}, q), ck, cv, block, seqs, &co);
  Tensor gq = Gpu({total_q, hq, d}, q);
  Tensor go = Poisoned({total_q, hq, d});
  gpu_->PagedAttention(gq, gk, gv, block, seqs, &go);
  const std::vector<float> want = Get(co), got = Get(go);
  // |v| <= 1, |score| <= 0.35 * 32 = 11.2 (attention tolerance above).
  ExpectClose(got, want, std::vector<double>(want.size(), 1.0 + 0.35 * d), 1e-5, "PagedAttention");

  // The paged kernel and the contiguous one share their arithmetic (kernels/attention.cu), so
  // over the same keys gathered into contiguous rows they agree to rounding at most (1e-6 of the
  // attention magnitude; in practice bit for bit): a wrong block-table lookup is off by ~|v|.
  for (size_t i = 0; i < seqs.size(); ++i) {
    const PagedSequence& s = seqs[i];
    if (s.q_len == 0) continue;
    std::vector<int64_t> rows;
    for (int64_t t = 0; t < s.kv_len; ++t) rows.push_back(tables[i][t / block] * block + t % block);
    Tensor k = gpu_->Empty(DType::kF32, {s.kv_len, hkv, d});
    Tensor v = gpu_->Empty(DType::kF32, {s.kv_len, hkv, d});
    gpu_->GatherRows(gk, rows, &k);
    gpu_->GatherRows(gv, rows, &v);
    Tensor ref = Poisoned({s.q_len, hq, d});
    gpu_->Attention(gq.Rows(s.q_begin, s.q_begin + s.q_len), k, v, s.params, &ref);
    const std::vector<float> contiguous = Get(ref);
    const std::vector<float> paged(got.begin() + s.q_begin * hq * d,
                                   got.begin() + (s.q_begin + s.q_len) * hq * d);
    ExpectClose(paged, contiguous, std::vector<double>(paged.size(), 1.0 + 0.35 * d), 1e-6,
                "paged vs contiguous, sequence " + std::to_string(i));
  }
}

// -------------------------------------------------------------------------------- Vision

TEST_F(CudaBackendTest, Im2PatchesMatchesCpu) {
  SCOPED_TRACE(Seed());
  const int64_t n = 2, c = 3, h = 28, w = 42;
  const int patch = 14;
  const std::vector<float> px = Random(n * c * h * w);
  const Shape out_shape = {n * (h / patch) * (w / patch), c * patch * patch};
  Tensor cy = cpu_.Empty(DType::kF32, out_shape);
  cpu_.Im2Patches(Cpu({n, c, h, w}, px), patch, &cy);
  Tensor gy = Poisoned(out_shape);
  gpu_->Im2Patches(Gpu({n, c, h, w}, px), patch, &gy);
  ExpectExact(Get(gy), Get(cy), "Im2Patches");
}

}  // namespace
}  // namespace drivelm::engine
