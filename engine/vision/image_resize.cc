#include "engine/vision/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"

// Every floating-point expression below is written in the order Pillow's Resample.c evaluates it,
// and this file is compiled with -ffp-contract=off (see BUILD): a fused multiply-add would round
// differently and break bit-exactness with PIL.

namespace drivelm::engine {
namespace {

// PIL's PRECISION_BITS: 8 bits of result, 2 spare bits for the filters' negative lobes and
// overshoot, in a 32-bit int.
constexpr int kPrecisionBits = 32 - 8 - 2;

double BoxFilter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double BilinearFilter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

double HammingFilter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));
}

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double SincFilter(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double LanczosFilter(double x) {
  if (-3.0 <= x && x < 3.0) return SincFilter(x) * SincFilter(x / 3);
  return 0.0;
}

// Magic Kernel Sharp (johncostella.com/magic), Pillow >= 12's MKS2013 / MKS2021.
double Mks2013Filter(double x) {
  if (x < 0) x = -x;
  if (x < 0.5) return 17.0 / 16.0 - 7.0 / 4.0 * std::pow(x, 2);
  if (x < 1.5) return (1.0 - x) * (7.0 / 4.0 - x);
  if (x < 2.5) return -1.0 / 8.0 * std::pow(x - 5.0 / 2.0, 2);
  return 0;
}

double Mks2021Filter(double x) {
  if (x < 0) x = -x;
  if (x < 0.5) return 577.0 / 576.0 - 239.0 / 144.0 * std::pow(x, 2);
  if (x < 1.5) return 35.0 / 36.0 * (x - 1.0) * (x - 239.0 / 140.0);
  if (x < 2.5) return 1.0 / 6.0 * (x - 2.0) * (65.0 / 24.0 - x);
  if (x < 3.5) return 1.0 / 36.0 * (x - 3.0) * (x - 15.0 / 4.0);
  if (x < 4.5) return -1.0 / 288.0 * std::pow(x - 9.0 / 2.0, 2);
  return 0;
}

struct FilterSpec {
  double (*fn)(double);
  double support;
};

FilterSpec SpecFor(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kLanczos:
      return {LanczosFilter, 3.0};
    case ResampleFilter::kBilinear:
      return {BilinearFilter, 1.0};
    case ResampleFilter::kBicubic:
      return {BicubicFilter, 2.0};
    case ResampleFilter::kBox:
      return {BoxFilter, 0.5};
    case ResampleFilter::kHamming:
      return {HammingFilter, 1.0};
    case ResampleFilter::kMks2013:
      return {Mks2013Filter, 2.5};
    case ResampleFilter::kMks2021:
      return {Mks2021Filter, 4.5};
  }
  return {BicubicFilter, 2.0};
}

// PIL's clip8: drop the fraction (arithmetic shift, so floor) and clamp to 0..255. The rounding
// half is added up front, as the accumulator's initial value.
inline uint8_t Clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

absl::StatusOr<ResampleFilter> ResampleFilterFromPil(int resample) {
  switch (resample) {
    case 1:
      return ResampleFilter::kLanczos;
    case 2:
      return ResampleFilter::kBilinear;
    case 3:
      return ResampleFilter::kBicubic;
    case 4:
      return ResampleFilter::kBox;
    case 5:
      return ResampleFilter::kHamming;
    case 6:
      return ResampleFilter::kMks2013;
    case 7:
      return ResampleFilter::kMks2021;
    default:
      return absl::InvalidArgumentError(absl::StrFormat(
          "resample %d is not supported: expected a PIL filter 1 (LANCZOS), 2 (BILINEAR), "
          "3 (BICUBIC), 4 (BOX), 5 (HAMMING), 6 (MKS2013) or 7 (MKS2021); 0 (NEAREST) is not "
          "implemented",
          resample));
  }
}

const char* ResampleFilterName(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kLanczos:
      return "lanczos";
    case ResampleFilter::kBilinear:
      return "bilinear";
    case ResampleFilter::kBicubic:
      return "bicubic";
    case ResampleFilter::kBox:
      return "box";
    case ResampleFilter::kHamming:
      return "hamming";
    case ResampleFilter::kMks2013:
      return "mks2013";
    case ResampleFilter::kMks2021:
      return "mks2021";
  }
  return "unknown";
}

ImageResizer::Axis ImageResizer::PrecomputeAxis(int64_t in_size, int64_t out_size,
                                                ResampleFilter filter) {
  const FilterSpec spec = SpecFor(filter);
  Axis axis;
  axis.in_size = in_size;
  axis.out_size = out_size;
  // PIL passes the box edges as floats (0 and in_size): in1 - in0 is computed in float.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = spec.support * filterscale;
  axis.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.coeffs.assign(static_cast<size_t>(out_size) * axis.ksize, 0);

  std::vector<double> k(axis.ksize);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    // (int) truncates toward zero, as in C; negative values are clamped to 0 right after.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double w = spec.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    int32_t* kk = &axis.coeffs[static_cast<size_t>(xx) * axis.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double normalized = ww != 0.0 ? k[x] / ww : k[x];
      // normalize_coeffs_8bpc: round half away from zero via truncation.
      kk[x] = normalized < 0 ? static_cast<int32_t>(-0.5 + normalized * (1 << kPrecisionBits))
                             : static_cast<int32_t>(0.5 + normalized * (1 << kPrecisionBits));
    }
    axis.first[xx] = xmin;
    axis.count[xx] = xmax;
  }
  return axis;
}

absl::StatusOr<ImageResizer> ImageResizer::Create(int64_t in_width, int64_t in_height,
                                                  int64_t out_width, int64_t out_height,
                                                  ResampleFilter filter) {
  // PIL's sizes are C ints; the coefficient tables are out_size * ksize.
  constexpr int64_t kMaxSide = 1 << 20;
  if (in_width <= 0 || in_height <= 0 || out_width <= 0 || out_height <= 0 ||
      in_width > kMaxSide || in_height > kMaxSide || out_width > kMaxSide ||
      out_height > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "resize %dx%d -> %dx%d: sizes must be in 1..%d", in_width, in_height, out_width,
        out_height, kMaxSide));
  }
  ImageResizer resizer;
  resizer.filter_ = filter;
  resizer.horizontal_ = PrecomputeAxis(in_width, out_width, filter);
  resizer.vertical_ = PrecomputeAxis(in_height, out_height, filter);
  // Pass order of recent Pillow's ImagingResampleInner (13.0 here; 11.0 always went horizontal
  // first): "If height is being scaled down more than twice the amount the width is, run the
  // vertical pass first". The order changes the result (each pass rounds to 8 bits). For the
  // camera case (1600x900 -> 224x224) both rules go horizontal first.
  const int64_t height_reduction = in_height - out_height;
  resizer.horizontal_first_ =
      !(height_reduction > 0 && height_reduction > (in_width - out_width) * 2);
  return resizer;
}

Image ImageResizer::HorizontalPass(const Image& src, int64_t row_first, int64_t rows) const {
  constexpr int kC = Image::kChannels;
  Image out;
  out.width = out_width();
  out.height = rows;
  out.pixels.resize(static_cast<size_t>(out.num_values()));
  const int ksize = horizontal_.ksize;
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* in_row = src.row(y + row_first);
    uint8_t* dst = out.row(y);
    for (int64_t xx = 0; xx < out_width(); ++xx, dst += kC) {
      const int32_t* k = &horizontal_.coeffs[static_cast<size_t>(xx) * ksize];
      const uint8_t* p = in_row + static_cast<int64_t>(horizontal_.first[xx]) * kC;
      const int n = horizontal_.count[xx];
      int32_t s0 = 1 << (kPrecisionBits - 1);
      int32_t s1 = s0;
      int32_t s2 = s0;
      for (int x = 0; x < n; ++x, p += kC) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[0] = Clip8(s0);
      dst[1] = Clip8(s1);
      dst[2] = Clip8(s2);
    }
  }
  return out;
}

Image ImageResizer::VerticalPass(const Image& src, int64_t row_offset) const {
  constexpr int kC = Image::kChannels;
  Image out;
  out.width = src.width;
  out.height = out_height();
  out.pixels.resize(static_cast<size_t>(out.num_values()));
  const int64_t row_values = src.width * kC;
  std::vector<int32_t> acc(row_values);
  const int ksize = vertical_.ksize;
  for (int64_t yy = 0; yy < out_height(); ++yy) {
    const int32_t* k = &vertical_.coeffs[static_cast<size_t>(yy) * ksize];
    const int64_t first = vertical_.first[yy] - row_offset;
    const int n = vertical_.count[yy];
    // Integer sums are exact, so accumulating row by row (vectorizable) gives PIL's result.
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < n; ++y) {
      const uint8_t* in_row = src.row(first + y);
      const int32_t ky = k[y];
      for (int64_t i = 0; i < row_values; ++i) acc[i] += in_row[i] * ky;
    }
    uint8_t* out_row = out.row(yy);
    for (int64_t i = 0; i < row_values; ++i) out_row[i] = Clip8(acc[i]);
  }
  return out;
}

absl::StatusOr<Image> ImageResizer::Resize(const Image& in) const {
  if (!in.valid() || in.width != in_width() || in.height != in_height()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "resize input is %dx%d with %d bytes; this resizer expects a %dx%d RGB image", in.width,
        in.height, in.pixels.size(), in_width(), in_height()));
  }
  const bool need_horizontal = out_width() != in_width();
  const bool need_vertical = out_height() != in_height();
  if (!need_horizontal && !need_vertical) return in;
  if (!need_vertical) return HorizontalPass(in, 0, in_height());
  if (!need_horizontal) return VerticalPass(in, 0);
  if (horizontal_first_) {
    // Only the source rows that the vertical pass reads.
    const int64_t row_first = vertical_.first[0];
    const int64_t row_last =
        vertical_.first[out_height() - 1] + vertical_.count[out_height() - 1];
    return VerticalPass(HorizontalPass(in, row_first, row_last - row_first), row_first);
  }
  return HorizontalPass(VerticalPass(in, 0), 0, out_height());
}

absl::StatusOr<Image> ResizeImage(const Image& in, int64_t out_width, int64_t out_height,
                                  ResampleFilter filter) {
  absl::StatusOr<ImageResizer> resizer =
      ImageResizer::Create(in.width, in.height, out_width, out_height, filter);
  if (!resizer.ok()) return resizer.status();
  return resizer->Resize(in);
}

}  // namespace drivelm::engine
