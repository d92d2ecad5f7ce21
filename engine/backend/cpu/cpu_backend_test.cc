// CpuBackend against double-precision loops written out here (the math) and against values
// printed by PyTorch/transformers (the semantics; tools/cpu_backend_goldens.py).
//
// Tolerances. The backend computes in float (24-bit mantissa, unit roundoff u = 6e-8). An
// elementwise op rounds a handful of times, so it lands within a few u of the exact value:
// checked at relative 1e-6. A reduction over K terms (GEMM, norms, attention) can lose up to
// about K * u times the sum of the terms' magnitudes in the worst case, and far less in practice
// (blocked summation): checked at 1e-5 times that magnitude. An indexing or masking bug moves
// values by the order of the magnitude itself, far outside either bound.
#include "engine/backend/cpu/cpu_backend.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/half.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

// Golden outputs of the Hugging Face code (tools/cpu_backend_goldens.py, torch 2.5.1,
// transformers 4.47.1) on the exact inputs of ExactInputs().
constexpr float kGoldenRope[] = {-3.125f, -0.8125f, 1.5f, -2.5f, -0.1875f, 2.125f, -1.875f, 0.4375f, 2.75f, -1.25f, 1.0625f, -2.9375f, -0.625f, 1.6875f, -2.3125f, 0.0f, 2.3125f, -1.6875f, 0.625f, 2.9375f, -1.0625f, 1.25f, -2.75f, -0.4375f, 1.875f, -2.125f, 0.1875f, 2.5f, -1.5f, 0.8125f, 3.125f, -0.875f, -0.0647863746f, -1.50248861f, -0.180115566f, 2.01009035f, -1.91365349f, 0.375195771f, 2.68524885f, -1.31194651f, 1.74991679f, -3.64814138f, -0.709023714f, 1.68939865f, -2.39425588f, -0.061313834f, 2.2526865f, -1.75041497f, 0.198736191f, 1.9744215f, -0.963390052f, 1.16319323f, -2.84298372f, -0.497032881f, 1.81112421f, -2.18666959f, 0.540865183f, 3.21071506f, -1.66700661f, 0.787170827f, 3.03422236f, -0.939076424f, 1.37681174f, -2.62569141f, 0.257145494f, -2.4495337f, 0.0405961275f, 0.332319468f, 2.46557164f, -1.33454502f, 0.933977067f, -3.06871843f, -0.770735025f, 0.664222121f, -3.15273809f, -0.053338699f, 2.36574292f, -1.84249043f, 0.506550193f, 2.80571389f, 0.172344327f, -1.22465706f, -4.13157463f, -0.329218864f, 1.65391433f, -2.18996334f, 0.0651234463f, 2.37070537f, -2.00526285f, 0.488361061f, 0.442400813f, -1.09910023f, 1.43168569f, -2.73664355f, -0.374553323f, 1.94275248f, -3.12321043f, 0.154304415f, 1.01934159f, 2.19320655f, -0.972585738f, -4.14546347f, -0.46808973f, 1.40879405f, -0.865714669f, -0.271746933f, 3.169065f, -0.878564537f, 0.105395585f, -0.378493071f, -1.4154675f, 1.18076479f, -0.722473264f, -0.997354031f, 0.751544595f, 3.27176523f, 0.236675382f, 0.228396893f, -1.09194422f, 0.607715607f, 4.09094667f, -0.724442005f, 1.960953f, -1.48516297f, 0.367955178f, 2.96835232f, -2.48413754f, 0.237619311f, -2.63937783f, 1.76968575f, -0.889337659f, 2.19351721f, 0.475144446f, 1.42631269f, 3.07106948f, 0.114292413f, -1.88084853f, 1.69473267f, -0.0992964506f, 3.48952198f, 1.5041672f, -1.01589286f, -2.47688103f, -0.722560406f, -1.70478475f, 2.76431274f, 0.217163652f, 1.61545634f, 1.07205057f, 0.3074283f, -2.51760578f, -0.227382839f, -1.0698086f, 2.43091679f, 0.454693556f, 2.39540339f, 2.58811975f, -0.487359285f, 2.80511904f, -1.91189122f, 0.262337148f, 0.981128097f, 0.789864004f, -0.463731647f, 2.2752831f, -0.00945243239f, 0.116235614f, 1.80063498f, -0.768983364f, 3.91240573f, -1.46480238f, -1.59827542f, 3.3305583f, -0.812445045f, -2.53532934f, -2.5882659f, -0.553027391f, 0.773074865f, 1.16447449f, -0.345844477f, -2.53665614f, -0.493886113f, -0.090688765f, -3.66961861f, 0.161839157f, 2.69258451f, -2.64417386f, -0.366466701f, -2.66761279f, -1.95111704f, -1.3153162f, -1.94923687f};
constexpr float kGoldenGelu[] = {-0.0f, -0.116511449f, 3.24843121f, -2.01389194e-05f, 0.242307767f, 4.99999952f, -0.0150842965f, 2.0895195f, -0.0f, -0.170039475f, 3.87487435f, -0.000372283161f, 0.841192007f, 5.625f, -0.0570009649f, 2.74227667f, -1.13248825e-06f, -0.0562827997f, 4.49999475f, -0.00363743305f, 1.54019499f, -0.0f, -0.132285804f, 3.37400508f};
constexpr float kGoldenRmsNorm[] = {-1.44542789f, -0.447085798f, 0.801464856f, -1.29590082f, -0.0942020267f, 1.03373015f, -0.88220942f, 0.244227469f, 1.49128282f, -0.65791887f, 0.542284667f, -1.45240581f, -0.32590273f, 1.04682207f, -1.39295316f, 0.0f, 1.3097918f, -0.925451398f, 0.331521749f, 1.84865522f, -0.649557829f, 0.741709709f, -1.5823139f, -0.243865132f};
constexpr float kGoldenLayerNorm[] = {0.909005642f, -0.165340513f, 0.465469241f, -0.26180625f, -0.0139182545f, -0.368928343f, 0.386599541f, 0.359177649f, 0.977766573f, -0.173167109f, 0.0625f, 0.174393415f, 0.111216217f, 0.577479184f, -0.404096782f, -0.1246254f, -0.166698128f, 0.487989843f, -0.320384532f, 1.30115259f, -0.147927254f, 0.118058428f, 0.0625f, -0.0940659791f};

// The inputs of tools/cpu_backend_goldens.py: small dyadic rationals, exact in float.
std::vector<float> ExactInputs(int n, int mod = 101, double div = 16.0) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(((i * 37) % mod - mod / 2) / div);
  return v;
}

class CpuBackendTest : public ::testing::Test {
 protected:
  CpuBackendTest() : be_(3) {}  // 3 threads: uneven splits of every awkward size

  std::vector<float> Random(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng_);
    return v;
  }
  Tensor F32(const Shape& shape, const std::vector<float>& v) {
    EXPECT_EQ(NumElements(shape), static_cast<int64_t>(v.size()));
    return be_.Upload(DType::kF32, shape, v.data());
  }
  std::vector<float> Get(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    be_.DownloadF32(t, v.data());
    return v;
  }

  CpuBackend be_;
  std::mt19937 rng_{12345};
};

// |actual - expected| <= tol * scale[i] + tiny, element by element, naming the first failure.
void ExpectNear(const std::vector<float>& actual, const std::vector<double>& expected,
                const std::vector<double>& scale, double tol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double bound = tol * scale[i] + 1e-30;
    ASSERT_LE(std::abs(actual[i] - expected[i]), bound)
        << what << ": element " << i << " actual " << actual[i] << " expected " << expected[i];
  }
}

// Relative check for elementwise results: the scale is |expected| (at least `floor`).
void ExpectRel(const std::vector<float>& actual, const std::vector<double>& expected, double tol,
               const std::string& what, double floor = 1e-6) {
  std::vector<double> scale(expected.size());
  for (size_t i = 0; i < expected.size(); ++i) scale[i] = std::max(std::abs(expected[i]), floor);
  ExpectNear(actual, expected, scale, tol, what);
}

// ------------------------------------------------------------------------------- Memory

TEST_F(CpuBackendTest, EmptyIsAlignedAndTyped) {
  for (Shape shape : {Shape{0}, Shape{1}, Shape{3, 5}, Shape{7, 1, 13}}) {
    Tensor t = be_.Empty(DType::kF32, shape);
    EXPECT_FALSE(t.empty());
    EXPECT_EQ(t.shape(), shape);
    EXPECT_EQ(t.dtype(), DType::kF32);
    EXPECT_EQ(t.device(), Device::kCpu);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u) << ShapeToString(shape);
  }
  Tensor h = be_.Empty(DType::kBF16, {4, 3});
  EXPECT_EQ(h.dtype(), DType::kBF16);
  EXPECT_EQ(h.nbytes(), 24u);
}

TEST_F(CpuBackendTest, UploadF32AndI32AreExactCopies) {
  std::vector<float> f = Random(37);
  f[3] = std::numeric_limits<float>::infinity();
  f[4] = -0.0f;
  f[5] = std::numeric_limits<float>::denorm_min();
  Tensor t = F32({37}, f);
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_EQ(std::memcmp(t.data(), f.data(), f.size() * 4), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);

  std::vector<int32_t> ids = {0, -1, 257152, std::numeric_limits<int32_t>::max(), 42};
  Tensor it = be_.Upload(DType::kI32, {5}, ids.data());
  EXPECT_EQ(it.dtype(), DType::kI32);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(it.i32()[i], ids[i]);
}

TEST_F(CpuBackendTest, UploadWidensEveryBf16AndF16ValueExactly) {
  // All 65536 bit patterns of each 16-bit type, in an odd shape, big enough to run in parallel.
  std::vector<uint16_t> bits(65536);
  for (int i = 0; i < 65536; ++i) bits[i] = static_cast<uint16_t>(i);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    Tensor t = be_.Upload(dtype, {256, 256}, bits.data());
    ASSERT_EQ(t.dtype(), DType::kF32) << DTypeName(dtype);
    ASSERT_EQ(t.shape(), (Shape{256, 256}));
    for (int i = 0; i < 65536; ++i) {
      const float want = dtype == DType::kBF16 ? Bf16ToF32(bits[i]) : F16ToF32(bits[i]);
      const float got = t.f32()[i];
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << DTypeName(dtype) << " bits " << i;
      } else {
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << DTypeName(dtype) << " bits " << i;
      }
    }
  }
  // Spot values that pin down the formats themselves.
  const uint16_t bf16_one = 0x3f80, f16_one = 0x3c00, f16_min_sub = 0x0001, bf16_neg2 = 0xc000;
  EXPECT_EQ(be_.Upload(DType::kBF16, {1}, &bf16_one).f32()[0], 1.0f);
  EXPECT_EQ(be_.Upload(DType::kBF16, {1}, &bf16_neg2).f32()[0], -2.0f);
  EXPECT_EQ(be_.Upload(DType::kF16, {1}, &f16_one).f32()[0], 1.0f);
  EXPECT_EQ(be_.Upload(DType::kF16, {1}, &f16_min_sub).f32()[0], std::ldexp(1.0f, -24));
}

TEST_F(CpuBackendTest, DownloadF32WidensEveryDtype) {
  Tensor b = be_.Empty(DType::kBF16, {3});
  const uint16_t bb[3] = {0x3f80, 0xc040, 0x0000};  // 1, -3, 0
  std::memcpy(b.data(), bb, sizeof(bb));
  EXPECT_EQ(Get(b), (std::vector<float>{1.0f, -3.0f, 0.0f}));
  Tensor h = be_.Empty(DType::kF16, {2});
  const uint16_t hh[2] = {0x3800, 0xc500};  // 0.5, -5
  std::memcpy(h.data(), hh, sizeof(hh));
  EXPECT_EQ(Get(h), (std::vector<float>{0.5f, -5.0f}));
  const int32_t ii[2] = {7, -9};
  EXPECT_EQ(Get(be_.Upload(DType::kI32, {2}, ii)), (std::vector<float>{7.0f, -9.0f}));
  std::vector<float> f = Random(11);
  EXPECT_EQ(Get(F32({11}, f)), f);
}

TEST_F(CpuBackendTest, CopyRowsWritesOnlyTheTargetRows) {
  std::vector<float> dst_v = Random(6 * 2 * 3), src_v = Random(2 * 2 * 3);
  Tensor dst = F32({6, 2, 3}, dst_v);
  be_.CopyRows(F32({2, 2, 3}, src_v), &dst, 3);
  std::vector<float> want = dst_v;
  std::copy(src_v.begin(), src_v.end(), want.begin() + 3 * 6);
  EXPECT_EQ(Get(dst), want);
  // The last rows, an I32 tensor, and an empty source.
  std::vector<int32_t> a = {1, 2, 3, 4, 5, 6}, b = {9, 8};
  Tensor ia = be_.Upload(DType::kI32, {3, 2}, a.data());
  be_.CopyRows(be_.Upload(DType::kI32, {1, 2}, b.data()), &ia, 2);
  EXPECT_EQ(Get(ia), (std::vector<float>{1, 2, 3, 4, 9, 8}));
  be_.CopyRows(be_.Empty(DType::kI32, {0, 2}), &ia, 3);
  EXPECT_EQ(Get(ia), (std::vector<float>{1, 2, 3, 4, 9, 8}));
}

// -------------------------------------------------------------------------------- Linear

struct LinearCase {
  int64_t m, k, n;
  bool bias;
};

TEST_F(CpuBackendTest, LinearMatchesDoubleLoop) {
  const LinearCase cases[] = {
      {1, 37, 19, false},   {1, 37, 19, true},     {1, 1031, 517, false},
      {1, 1031, 517, true}, {7, 33, 65, false},    {7, 33, 65, true},
      {300, 129, 257, true}, {513, 260, 95, false}, {2, 1, 3, true},
  };
  for (const LinearCase& c : cases) {
    const std::string what = "m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) +
                             " n=" + std::to_string(c.n) + (c.bias ? " bias" : "");
    std::vector<float> x = Random(c.m * c.k), w = Random(c.n * c.k), b = Random(c.n, -2, 2);
    Tensor tx = F32({c.m, c.k}, x), tw = F32({c.n, c.k}, w), tb = F32({c.n}, b);
    Tensor y = be_.Empty(DType::kF32, {c.m, c.n});
    be_.Linear(tx, tw, c.bias ? &tb : nullptr, &y);
    std::vector<double> want(c.m * c.n), mag(c.m * c.n);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double s = c.bias ? b[j] : 0.0, a = c.bias ? std::abs(b[j]) : 0.0;
        for (int64_t t = 0; t < c.k; ++t) {
          s += static_cast<double>(x[i * c.k + t]) * w[j * c.k + t];
          a += std::abs(static_cast<double>(x[i * c.k + t]) * w[j * c.k + t]);
        }
        want[i * c.n + j] = s;
        mag[i * c.n + j] = a;
      }
    }
    ExpectNear(Get(y), want, mag, 1e-5, "Linear " + what);
  }
}

TEST_F(CpuBackendTest, LinearWithEmptyReductionIsBias) {
  Tensor x = be_.Empty(DType::kF32, {2, 0}), w = be_.Empty(DType::kF32, {3, 0});
  Tensor b = F32({3}, {1, 2, 3});
  Tensor y = F32({2, 3}, std::vector<float>(6, 99.0f));
  be_.Linear(x, w, &b, &y);
  EXPECT_EQ(Get(y), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  be_.Linear(x, w, nullptr, &y);
  EXPECT_EQ(Get(y), std::vector<float>(6, 0.0f));
}

// -------------------------------------------------------------------- Elementwise / norms

TEST_F(CpuBackendTest, AddInPlaceSameShapeAndRepeatedRows) {
  // Same shape, big enough to split over threads.
  std::vector<float> y = Random(100003), x = Random(100003);
  Tensor ty = F32({100003}, y);
  be_.AddInPlace(&ty, F32({100003}, x));
  std::vector<double> want(y.size());
  for (size_t i = 0; i < y.size(); ++i) want[i] = static_cast<double>(y[i]) + x[i];
  ExpectRel(Get(ty), want, 1e-6, "AddInPlace same shape");

  // Position embeddings [5, 2, 7] added to each of 6 images [30, 2, 7]: y row r += x row r % 5.
  std::vector<float> yy = Random(30 * 14), xx = Random(5 * 14);
  Tensor tyy = F32({30, 2, 7}, yy);
  be_.AddInPlace(&tyy, F32({5, 2, 7}, xx));
  std::vector<double> want2(yy.size());
  for (int r = 0; r < 30; ++r) {
    for (int c = 0; c < 14; ++c) {
      want2[r * 14 + c] = static_cast<double>(yy[r * 14 + c]) + xx[(r % 5) * 14 + c];
    }
  }
  ExpectRel(Get(tyy), want2, 1e-6, "AddInPlace repeated rows");
}

TEST_F(CpuBackendTest, ScaleInPlace) {
  std::vector<float> y = Random(70007);
  Tensor t = F32({7, 10001}, y);
  be_.ScaleInPlace(&t, 45.254833995939045f);
  std::vector<double> want(y.size());
  for (size_t i = 0; i < y.size(); ++i) want[i] = static_cast<double>(y[i]) * 45.254833995939045f;
  ExpectRel(Get(t), want, 1e-6, "ScaleInPlace");
}

TEST_F(CpuBackendTest, RmsNormMatchesDoubleLoop) {
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{1, 7}, {3, 2049}, {65, 300}}) {
    for (float offset : {1.0f, 0.0f}) {
      for (bool alias : {false, true}) {
        std::vector<float> x = Random(rows * n, -3, 3), w = Random(n, -0.5, 0.5);
        Tensor tx = F32({rows, n}, x), tw = F32({n}, w);
        Tensor y = alias ? tx : be_.Empty(DType::kF32, {rows, n});
        be_.RmsNorm(tx, tw, 1e-6f, offset, &y);
        std::vector<double> want(x.size());
        for (int64_t r = 0; r < rows; ++r) {
          double ss = 0;
          for (int64_t c = 0; c < n; ++c) ss += static_cast<double>(x[r * n + c]) * x[r * n + c];
          const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
          for (int64_t c = 0; c < n; ++c) {
            want[r * n + c] = x[r * n + c] * inv * (offset + static_cast<double>(w[c]));
          }
        }
        // Elementwise after one well-conditioned reduction (a sum of squares): a few ulps.
        ExpectRel(Get(y), want, 2e-6,
                  "RmsNorm rows=" + std::to_string(rows) + " n=" + std::to_string(n) +
                      " offset=" + std::to_string(offset) + (alias ? " aliased" : ""),
                  1e-3);
      }
    }
  }
}

TEST_F(CpuBackendTest, LayerNormMatchesDoubleLoop) {
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{1, 5}, {4, 1152}, {33, 257}}) {
    for (bool alias : {false, true}) {
      // A large common offset makes a one-pass E[x^2] - E[x]^2 variance fail; the two-pass
      // (or Welford) variance PyTorch uses does not.
      std::vector<float> x = Random(rows * n, 99, 101), w = Random(n, -2, 2), b = Random(n);
      Tensor tx = F32({rows, n}, x), tw = F32({n}, w), tb = F32({n}, b);
      Tensor y = alias ? tx : be_.Empty(DType::kF32, {rows, n});
      be_.LayerNorm(tx, tw, tb, 1e-6f, &y);
      std::vector<double> want(x.size()), mag(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t c = 0; c < n; ++c) mean += x[r * n + c];
        mean /= n;
        for (int64_t c = 0; c < n; ++c) var += (x[r * n + c] - mean) * (x[r * n + c] - mean);
        var /= n;
        const double rstd = 1.0 / std::sqrt(var + 1e-6);
        for (int64_t c = 0; c < n; ++c) {
          want[r * n + c] = (x[r * n + c] - mean) * rstd * w[c] + b[c];
          // x - mean cancels ~100 down to ~1: float x carries 100 * u of absolute error, which
          // the normalization scales by rstd (~1.7): the bound is relative to that.
          mag[r * n + c] = std::abs((x[r * n + c] - mean) * rstd * w[c]) + std::abs(b[c]) +
                           100.0 * rstd * std::abs(w[c]) * 0.1;
        }
      }
      ExpectNear(Get(y), want, mag, 1e-5,
                 "LayerNorm rows=" + std::to_string(rows) + " n=" + std::to_string(n));
    }
  }
}

double GeluRef(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST_F(CpuBackendTest, GeluTanhAndGeluTanhMul) {
  std::vector<float> g = Random(50007, -8, 8), u = Random(50007, -2, 2);
  Tensor tg = F32({3, 16669}, g);
  be_.GeluTanh(&tg);
  std::vector<double> want(g.size()), want_mul(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    want[i] = GeluRef(g[i]);
    want_mul[i] = want[i] * u[i];
  }
  // gelu(x) for x << 0 is a tiny difference of nearly equal terms: its float error is relative
  // to |x| rather than to the result, hence the absolute floor.
  ExpectRel(Get(tg), want, 2e-6, "GeluTanh", 1e-1);

  for (int alias = 0; alias < 3; ++alias) {  // none, y = gate, y = up
    Tensor gate = F32({3, 16669}, g), up = F32({3, 16669}, u);
    Tensor y = alias == 0 ? be_.Empty(DType::kF32, {3, 16669}) : (alias == 1 ? gate : up);
    be_.GeluTanhMul(gate, up, &y);
    ExpectRel(Get(y), want_mul, 2e-6, "GeluTanhMul alias=" + std::to_string(alias), 1e-1);
  }
}

TEST_F(CpuBackendTest, SoftCapInPlace) {
  std::vector<float> x = Random(40000, -200, 200);
  Tensor t = F32({40000}, x);
  be_.SoftCapInPlace(&t, 30.0f);
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = 30.0 * std::tanh(x[i] / 30.0);
  ExpectRel(Get(t), want, 2e-6, "SoftCap", 1e-3);
  std::vector<float> got = Get(t);
  for (float v : got) ASSERT_LE(std::abs(v), 30.0f);

  // Small logits keep their relative precision (tanh must not be computed as 1 - 2 / (e + 1)
  // in float), and infinities saturate at +-cap.
  std::vector<float> small;
  for (int e = -30; e <= 2; ++e) {
    for (float m : {1.0f, -1.37f, 1.9f}) small.push_back(std::ldexp(m, e));
  }
  small.push_back(std::numeric_limits<float>::infinity());
  small.push_back(-std::numeric_limits<float>::infinity());
  Tensor ts = F32({static_cast<int64_t>(small.size())}, small);
  be_.SoftCapInPlace(&ts, 30.0f);
  std::vector<double> want_small(small.size());
  for (size_t i = 0; i < small.size(); ++i) want_small[i] = 30.0 * std::tanh(small[i] / 30.0);
  ExpectRel(Get(ts), want_small, 1e-6, "SoftCap small", 1e-30);
}

// -------------------------------------------------------------------- Transformer pieces

TEST_F(CpuBackendTest, EmbedGathersAndScales) {
  const int64_t vocab = 50, hidden = 19;
  std::vector<float> table = Random(vocab * hidden);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
  Tensor y = be_.Empty(DType::kF32, {5, hidden});
  be_.Embed(F32({vocab, hidden}, table), ids, 45.254834f, &y);
  std::vector<double> want(5 * hidden);
  for (int i = 0; i < 5; ++i) {
    for (int c = 0; c < hidden; ++c) want[i * hidden + c] = table[ids[i] * hidden + c] * 45.254834;
  }
  ExpectRel(Get(y), want, 1e-6, "Embed");
}

TEST_F(CpuBackendTest, RopeMatchesDoubleLoop) {
  // The angle is float32 in transformers (the exponent, inv_freq and freqs = pos * inv_freq are
  // float32 tensors), and at position 4000 its rounding alone moves the result by ~1e-4: the
  // reference takes that float angle as the definition and does everything after it in double.
  const int64_t tokens = 9, heads = 3, d = 24;
  std::vector<int32_t> pos = {0, 1, 2, 17, 255, 256, 1599, 4000, 3};
  std::vector<float> x = Random(tokens * heads * d, -2, 2);
  Tensor t = F32({tokens, heads, d}, x);
  be_.Rope(&t, pos, 10000.0f);
  std::vector<double> want(x.size()), mag(x.size());
  for (int64_t i = 0; i < tokens; ++i) {
    for (int64_t k = 0; k < d / 2; ++k) {
      // inv_freq = 1.0 / (base ** (arange(0, d, 2).float() / d)): every step a float32 tensor.
      const float exponent = static_cast<float>(2 * k) / static_cast<float>(d);
      const float inv_freq = 1.0f / static_cast<float>(std::pow(10000.0, exponent));
      const double angle = static_cast<float>(pos[i]) * inv_freq;  // float product
      const double c = std::cos(angle), s = std::sin(angle);
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t base = (i * heads + h) * d;
        const double x1 = x[base + k], x2 = x[base + k + d / 2];
        want[base + k] = x1 * c - x2 * s;
        want[base + k + d / 2] = x2 * c + x1 * s;
        mag[base + k] = mag[base + k + d / 2] = std::abs(x1) + std::abs(x2);
      }
    }
  }
  ExpectNear(Get(t), want, mag, 1e-6, "Rope");
}

TEST_F(CpuBackendTest, GoldenValuesFromTransformers) {
  // Within an ulp or two of PyTorch: the remaining differences are its vectorized
  // transcendental functions (SLEEF tanh, pow) versus correctly rounded ones here.
  auto check = [](const std::vector<float>& got, const float* want, size_t n,
                  const std::string& what) {
    ASSERT_EQ(got.size(), n) << what;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-6 * (1.0 + std::abs(want[i]))) << what << " element " << i;
    }
  };
  {
    Tensor x = F32({6, 2, 16}, ExactInputs(6 * 2 * 16));
    be_.Rope(&x, std::vector<int32_t>{0, 1, 7, 257, 1599, 4095}, 10000.0f);
    check(Get(x), kGoldenRope, std::size(kGoldenRope), "Rope");
  }
  {
    Tensor x = F32({24}, ExactInputs(24, 97, 8.0));
    be_.GeluTanh(&x);
    check(Get(x), kGoldenGelu, std::size(kGoldenGelu), "GeluTanh");
  }
  {
    Tensor x = F32({2, 12}, ExactInputs(24));
    Tensor y = be_.Empty(DType::kF32, {2, 12});
    be_.RmsNorm(x, F32({12}, ExactInputs(12, 13, 64.0)), 1e-6f, 1.0f, &y);
    check(Get(y), kGoldenRmsNorm, std::size(kGoldenRmsNorm), "Gemma RmsNorm");
  }
  {
    Tensor x = F32({2, 12}, ExactInputs(24));
    Tensor y = be_.Empty(DType::kF32, {2, 12});
    be_.LayerNorm(x, F32({12}, ExactInputs(12, 13, 8.0)), F32({12}, ExactInputs(12, 11, 32.0)),
                  1e-6f, &y);
    check(Get(y), kGoldenLayerNorm, std::size(kGoldenLayerNorm), "LayerNorm");
  }
}

// ------------------------------------------------------------------------------ Attention

struct AttnCase {
  std::string name;
  int64_t tq, tk, hq, hkv, d;
  AttentionParams p;
  float q_range = 1.0f;  // |q| values: larger makes softmax peakier (and softcap matter)
};

// The mask exactly as backend.h words it.
bool Visible(const AttentionParams& p, int64_t pos, int64_t j) {
  return (j < p.prefix_len || (p.causal && j <= pos) || !p.causal) &&
         (p.sliding_window <= 0 || pos - j < p.sliding_window);
}

class AttentionTest : public CpuBackendTest {
 protected:
  // Runs one case against a double-precision softmax(mask(q.k * scale)).v and returns the
  // number of query rows (per head) that had no visible key.
  int64_t RunCase(const AttnCase& c) {
    std::vector<float> q = Random(c.tq * c.hq * c.d, -c.q_range, c.q_range);
    std::vector<float> k = Random(c.tk * c.hkv * c.d), v = Random(c.tk * c.hkv * c.d, -3, 3);
    Tensor out = F32({c.tq, c.hq, c.d}, std::vector<float>(c.tq * c.hq * c.d, 1234.5f));
    be_.Attention(F32({c.tq, c.hq, c.d}, q), F32({c.tk, c.hkv, c.d}, k),
                  F32({c.tk, c.hkv, c.d}, v), c.p, &out);
    std::vector<double> want(q.size(), 0.0), mag(q.size(), 0.0);
    int64_t empty_rows = 0;
    const int64_t group = c.hq / c.hkv;
    std::vector<double> s(c.tk);
    for (int64_t i = 0; i < c.tq; ++i) {
      const int64_t pos = c.p.q_start + i;
      for (int64_t h = 0; h < c.hq; ++h) {
        const int64_t g = h / group;
        double mx = -INFINITY;
        for (int64_t j = 0; j < c.tk; ++j) {
          if (!Visible(c.p, pos, j)) continue;
          double dot = 0;
          for (int64_t t = 0; t < c.d; ++t) {
            dot += static_cast<double>(q[(i * c.hq + h) * c.d + t]) * k[(j * c.hkv + g) * c.d + t];
          }
          dot *= c.p.scale;
          if (c.p.softcap > 0) dot = c.p.softcap * std::tanh(dot / c.p.softcap);
          s[j] = dot;
          mx = std::max(mx, dot);
        }
        const int64_t o = (i * c.hq + h) * c.d;
        if (mx == -INFINITY) {
          ++empty_rows;
          for (int64_t t = 0; t < c.d; ++t) mag[o + t] = 1.0;
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < c.tk; ++j) {
          if (Visible(c.p, pos, j)) sum += (s[j] = std::exp(s[j] - mx));
        }
        for (int64_t j = 0; j < c.tk; ++j) {
          if (!Visible(c.p, pos, j)) continue;
          for (int64_t t = 0; t < c.d; ++t) {
            want[o + t] += s[j] / sum * v[(j * c.hkv + g) * c.d + t];
            mag[o + t] += s[j] / sum * std::abs(v[(j * c.hkv + g) * c.d + t]);
          }
        }
        // Score errors (a d-term dot product) shift the weights by ~d * u relatively.
        for (int64_t t = 0; t < c.d; ++t) mag[o + t] = std::max(mag[o + t], 1e-3);
      }
    }
    ExpectNear(Get(out), want, mag, 1e-5, "Attention " + c.name);
    return empty_rows;
  }
};

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

TEST_F(AttentionTest, AllMaskModes) {
  const float s16 = 0.25f, s32 = 1.0f / std::sqrt(32.0f);
  const AttnCase cases[] = {
      {"full (SigLIP)", 37, 37, 3, 3, 16, Params(s16, false)},
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
      {"many blocks, MQA", 600, 600, 8, 1, 32, Params(s32, true, 0, 300)},
      {"many blocks, MHA", 600, 600, 2, 2, 32, Params(s32, true, 0, 300, 100)},
      {"one key", 5, 1, 2, 1, 8, Params(0.5f, true, 0, 0)},
  };
  for (const AttnCase& c : cases) {
    EXPECT_EQ(RunCase(c), 0) << c.name;
  }
}

TEST_F(AttentionTest, QueryWithNoVisibleKeyGetsZeros) {
  // Queries at positions 100.. with a window of 10 over keys 0..49: nothing is visible.
  AttnCase c{"no visible key", 3, 50, 4, 2, 16, Params(0.25f, true, 100, 0, 10)};
  EXPECT_EQ(RunCase(c), 3 * 4);
  // Only some rows empty: the window slides past the last key at position 59 + 10.
  AttnCase partial{"partly empty", 30, 50, 2, 1, 16, Params(0.25f, true, 45, 0, 10)};
  EXPECT_GT(RunCase(partial), 0);
  // No keys at all.
  Tensor out = F32({2, 2, 4}, std::vector<float>(16, 7.0f));
  be_.Attention(F32({2, 2, 4}, Random(16)), be_.Empty(DType::kF32, {0, 1, 4}),
                be_.Empty(DType::kF32, {0, 1, 4}), Params(0.5f, true), &out);
  EXPECT_EQ(Get(out), std::vector<float>(16, 0.0f));
}

// -------------------------------------------------------------------------------- Vision

TEST_F(CpuBackendTest, Im2PatchesMatchesConvLayout) {
  const int64_t n = 2, c = 3, h = 28, w = 42;
  const int patch = 14;
  std::vector<float> px = Random(n * c * h * w);
  const int64_t ph = h / patch, pw = w / patch;
  Tensor y = be_.Empty(DType::kF32, {n * ph * pw, c * patch * patch});
  be_.Im2Patches(F32({n, c, h, w}, px), patch, &y);
  std::vector<float> got = Get(y);
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t py = 0; py < ph; ++py) {
      for (int64_t qx = 0; qx < pw; ++qx) {
        const int64_t row = (img * ph + py) * pw + qx;
        for (int64_t ch = 0; ch < c; ++ch) {
          for (int ky = 0; ky < patch; ++ky) {
            for (int kx = 0; kx < patch; ++kx) {
              const int64_t col = (ch * patch + ky) * patch + kx;
              const float want = px[((img * c + ch) * h + py * patch + ky) * w + qx * patch + kx];
              ASSERT_EQ(got[row * c * patch * patch + col], want)
                  << "img " << img << " patch (" << py << "," << qx << ") c " << ch << " ky " << ky
                  << " kx " << kx;
            }
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------- Threads

TEST(CpuBackendThreadsTest, PoolOpsDoNotDependOnThreadCount) {
  // Row ops compute each row on one thread, so results must be bit-identical however the rows
  // are split.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-3, 3);
  std::vector<float> x(129 * 515), w(515), b(515);
  for (float& f : x) f = dist(rng);
  for (float& f : w) f = dist(rng);
  for (float& f : b) f = dist(rng);
  std::vector<int32_t> pos(129 * 5);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i * 3);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 5}) {
    CpuBackend be(threads);
    EXPECT_EQ(be.num_threads(), threads);
    Tensor tx = be.Upload(DType::kF32, {129, 515}, x.data());
    Tensor tw = be.Upload(DType::kF32, {515}, w.data());
    Tensor tb = be.Upload(DType::kF32, {515}, b.data());
    Tensor y1 = be.Empty(DType::kF32, {129, 515}), y2 = be.Empty(DType::kF32, {129, 515});
    be.RmsNorm(tx, tw, 1e-6f, 1.0f, &y1);
    be.LayerNorm(tx, tw, tb, 1e-6f, &y2);
    be.GeluTanhMul(y1, y2, &y1);
    Tensor r = be.Upload(DType::kF32, {129 * 5, 1, 102}, x.data());  // [tokens, heads, head_dim]
    be.Rope(&r, pos, 10000.0f);
    std::vector<float> out(129 * 515), out_r(129 * 5 * 102);
    be.DownloadF32(y1, out.data());
    be.DownloadF32(r, out_r.data());
    out.insert(out.end(), out_r.begin(), out_r.end());
    results.push_back(out);
  }
  for (size_t i = 1; i < results.size(); ++i) {
    ASSERT_EQ(std::memcmp(results[0].data(), results[i].data(), results[0].size() * 4), 0) << i;
  }
}

// ------------------------------------------------------------------------ Shape mistakes

#ifndef NDEBUG
TEST(CpuBackendDeathTest, ShapeMismatchesAreCaughtNotWrittenThrough) {
  // Shapes are a model-code contract (backend.h): a mismatch must stop at an assert rather
  // than read or write past a buffer.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  CpuBackend be(1);
  Tensor x = be.Empty(DType::kF32, {2, 3}), w = be.Empty(DType::kF32, {4, 5});
  Tensor y = be.Empty(DType::kF32, {2, 4});
  EXPECT_DEATH(be.Linear(x, w, nullptr, &y), "");
  Tensor dst = be.Empty(DType::kF32, {3, 3});
  EXPECT_DEATH(be.CopyRows(x, &dst, 2), "");
  Tensor q = be.Empty(DType::kF32, {1, 3, 4}), kv = be.Empty(DType::kF32, {2, 2, 4});
  Tensor o = be.Empty(DType::kF32, {1, 3, 4});
  EXPECT_DEATH(be.Attention(q, kv, kv, AttentionParams(), &o), "");  // 3 % 2 != 0
}
#endif

}  // namespace
}  // namespace drivelm::engine
