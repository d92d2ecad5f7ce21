// ImageProcessor: encoded image bytes -> model pixel values, exactly as Hugging Face's
// SiglipImageProcessor (transformers 4.47) does it for PaliGemma:
//   Image.open + convert("RGB") (PIL)  -> DecodeImage
//     (transformers 4.47 leaves SiglipImageProcessor's do_convert_rgb unset and then refuses gray
//     or RGBA input; PaliGemma pipelines convert first, e.g. transformers.image_utils.load_image,
//     which also applies the EXIF orientation: not done here)
//   resize to (height, width) with PIL `resample`  -> ImageResizer (bit-exact with PIL)
//   rescale: float32(float64(uint8) * rescale_factor)
//   normalize: (x - float32(mean[c])) / float32(std[c]) in float32
//   channels first: [3, height, width]
// Since each output value depends only on (uint8 value, channel), rescale + normalize is a
// 256-entry table per channel computed with those exact operations.
//
// Thread safety: all methods are const and may be called concurrently. Resizers (filter
// coefficients) are computed once per input size and shared, under a mutex.
#ifndef DRIVELM_ENGINE_VISION_IMAGE_PROCESSOR_H_
#define DRIVELM_ENGINE_VISION_IMAGE_PROCESSOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/model_config.h"
#include "engine/vision/image.h"
#include "engine/vision/image_decoder.h"
#include "engine/vision/image_resize.h"

namespace drivelm::engine {

// ImageProcessorConfig (preprocessor_config.json, engine/model/model_config.h) plus the serving
// limits that are not part of the checkpoint. Defaults are PaliGemma's.
struct ImageProcessorOptions {
  bool do_resize = true;  // false: images must already be height x width
  int64_t height = 224;
  int64_t width = 224;
  int resample = 3;  // PIL.Image.BICUBIC
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean = {0.5, 0.5, 0.5};
  std::array<double, 3> image_std = {0.5, 0.5, 0.5};
  // Decoded images with more pixels are refused from the header (see DecodeOptions).
  int64_t max_pixels = kDefaultMaxPixels;
};

ImageProcessorOptions OptionsFromConfig(const ImageProcessorConfig& config,
                                        int64_t max_pixels = kDefaultMaxPixels);

struct ProcessedImage {
  uint64_t content_hash = 0;  // ContentHash of the decoded RGB image
  int64_t source_width = 0;   // decoded size, before resizing
  int64_t source_height = 0;
  std::vector<float> pixel_values;  // [3, height, width]
};

class ImageProcessor {
 public:
  // InvalidArgument naming the field when the options are unusable: non-positive sizes or
  // max_pixels, an unsupported resample, a zero std, a non-finite or non-positive rescale.
  static absl::StatusOr<ImageProcessor> Create(const ImageProcessorOptions& options);

  const ImageProcessorOptions& options() const { return options_; }
  // Floats per processed image: 3 * height * width.
  int64_t output_size() const { return 3 * options_.height * options_.width; }

  // Decode, hash, resize, rescale, normalize.
  absl::StatusOr<ProcessedImage> Process(absl::string_view encoded) const;

  // Resize + rescale + normalize a decoded image into `out` [3, height, width] (output_size()
  // floats), e.g. straight into a batch tensor.
  absl::Status ProcessInto(const Image& image, float* out) const;

 private:
  struct ResizerCache {
    std::mutex mu;
    std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const ImageResizer>> by_input_size;
  };
  static constexpr size_t kMaxCachedResizers = 16;

  absl::StatusOr<std::shared_ptr<const ImageResizer>> ResizerFor(int64_t in_width,
                                                                 int64_t in_height) const;

  ImageProcessorOptions options_;
  ResampleFilter filter_ = ResampleFilter::kBicubic;
  // [3][256]: output value of uint8 v in channel c.
  std::array<std::array<float, 256>, 3> lut_{};
  // shared_ptr so ImageProcessor stays movable; the cache itself is internally synchronized.
  std::shared_ptr<ResizerCache> cache_ = std::make_shared<ResizerCache>();
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_VISION_IMAGE_PROCESSOR_H_
