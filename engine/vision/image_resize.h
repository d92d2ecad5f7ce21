// Image resizing that reproduces PIL's `Image.resize(size, resample=...)` bit for bit on 8-bit RGB
// (Pillow's ImagingResample in src/libImaging/Resample.c): a separable convolution whose filter is
// stretched by the downscale factor (support = filter support * max(1, in / out)), coefficients
// normalized per output pixel in double, then converted to fixed point with 22 fractional bits;
// each pass rounds and clamps to uint8 (the intermediate image is 8-bit, as in PIL). The
// horizontal pass runs first, over only the source rows the vertical pass reads, unless the
// height shrinks by more than twice as many pixels as the width does: then recent Pillow (the
// reference is Pillow 13.0; 11.0 did not) runs the vertical pass first, which changes the
// rounding. A pass whose size does not change is skipped; an unchanged size copies the image.
//
// ImageResizer precomputes both passes' coefficients for one (input size, output size, filter)
// and is immutable after Create: share one across threads.
#ifndef DRIVELM_ENGINE_VISION_IMAGE_RESIZE_H_
#define DRIVELM_ENGINE_VISION_IMAGE_RESIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/vision/image.h"

namespace drivelm::engine {

// PIL's convolution filters. PIL's NEAREST (0) is a different algorithm and is not supported.
enum class ResampleFilter {
  kLanczos,   // PIL 1 (Image.LANCZOS / ANTIALIAS), support 3
  kBilinear,  // PIL 2, support 1
  kBicubic,   // PIL 3, support 2, a = -0.5
  kBox,       // PIL 4, support 0.5
  kHamming,   // PIL 5, support 1
  kMks2013,   // PIL 6 (recent Pillow), Magic Kernel Sharp 2013, support 2.5
  kMks2021,   // PIL 7 (recent Pillow), Magic Kernel Sharp 2021, support 4.5
};

// From the integer of preprocessor_config.json's "resample" (PIL.Image.Resampling values).
absl::StatusOr<ResampleFilter> ResampleFilterFromPil(int resample);
const char* ResampleFilterName(ResampleFilter filter);

class ImageResizer {
 public:
  // InvalidArgument when a size is not positive.
  static absl::StatusOr<ImageResizer> Create(int64_t in_width, int64_t in_height,
                                             int64_t out_width, int64_t out_height,
                                             ResampleFilter filter);

  int64_t in_width() const { return horizontal_.in_size; }
  int64_t in_height() const { return vertical_.in_size; }
  int64_t out_width() const { return horizontal_.out_size; }
  int64_t out_height() const { return vertical_.out_size; }
  ResampleFilter filter() const { return filter_; }

  // InvalidArgument when `in` is not a valid image of in_width x in_height.
  absl::StatusOr<Image> Resize(const Image& in) const;

 private:
  // Coefficients of one axis, as PIL's precompute_coeffs + normalize_coeffs_8bpc make them.
  struct Axis {
    int64_t in_size = 0;
    int64_t out_size = 0;
    int ksize = 0;                 // coefficients stored per output pixel
    std::vector<int32_t> first;    // [out_size] first input index read
    std::vector<int32_t> count;    // [out_size] input pixels read (<= ksize)
    std::vector<int32_t> coeffs;   // [out_size, ksize] fixed point, 22 fractional bits
  };
  static Axis PrecomputeAxis(int64_t in_size, int64_t out_size, ResampleFilter filter);
  // Rows [row_first, row_first + rows) of `src` resampled to out_width.
  Image HorizontalPass(const Image& src, int64_t row_first, int64_t rows) const;
  // `src` resampled to out_height; src row r holds source row r + row_offset.
  Image VerticalPass(const Image& src, int64_t row_offset) const;

  ResampleFilter filter_ = ResampleFilter::kBicubic;
  bool horizontal_first_ = true;  // pass order, as Pillow 13 picks it
  Axis horizontal_;
  Axis vertical_;
};

// One-off convenience: Create + Resize. Callers that resize many images of one size keep an
// ImageResizer instead.
absl::StatusOr<Image> ResizeImage(const Image& in, int64_t out_width, int64_t out_height,
                                  ResampleFilter filter);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_VISION_IMAGE_RESIZE_H_
