#include "engine/vision/image_processor.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/vision/content_hash.h"

// Compiled with -ffp-contract=off (see BUILD): the table must round exactly as numpy does.

namespace drivelm::engine {

ImageProcessorOptions OptionsFromConfig(const ImageProcessorConfig& config,
                                        int64_t max_pixels) {
  ImageProcessorOptions options;
  options.do_resize = config.do_resize;
  options.height = config.height;
  options.width = config.width;
  options.resample = config.resample;
  options.do_rescale = config.do_rescale;
  options.rescale_factor = config.rescale_factor;
  options.do_normalize = config.do_normalize;
  options.image_mean = config.image_mean;
  options.image_std = config.image_std;
  options.max_pixels = max_pixels;
  return options;
}

absl::StatusOr<ImageProcessor> ImageProcessor::Create(const ImageProcessorOptions& options) {
  if (options.height <= 0 || options.width <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image processor size must be positive, got height %d width %d", options.height,
        options.width));
  }
  if (options.max_pixels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("image processor max_pixels must be positive, got %d", options.max_pixels));
  }
  absl::StatusOr<ResampleFilter> filter = ResampleFilterFromPil(options.resample);
  if (!filter.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image processor: ", filter.status().message()));
  }
  if (options.do_rescale && !(std::isfinite(options.rescale_factor) && options.rescale_factor > 0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image processor rescale_factor must be finite and positive, got %g",
        options.rescale_factor));
  }
  ImageProcessor processor;
  processor.options_ = options;
  processor.filter_ = *filter;
  for (int c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(options.image_mean[c]);
    const float std = static_cast<float>(options.image_std[c]);
    if (options.do_normalize && (!std::isfinite(mean) || !std::isfinite(std) || std == 0.0f)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "image processor image_mean[%d] = %g and image_std[%d] = %g: std must be finite and "
          "non-zero, mean finite",
          c, options.image_mean[c], c, options.image_std[c]));
    }
    for (int v = 0; v < 256; ++v) {
      // transformers' rescale: image.astype(float64) * scale, then .astype(float32).
      float x = options.do_rescale
                    ? static_cast<float>(static_cast<double>(v) * options.rescale_factor)
                    : static_cast<float>(v);
      // transformers' normalize: float32 arrays, (image - mean) / std.
      if (options.do_normalize) x = (x - mean) / std;
      processor.lut_[c][v] = x;
    }
  }
  return processor;
}

absl::StatusOr<std::shared_ptr<const ImageResizer>> ImageProcessor::ResizerFor(
    int64_t in_width, int64_t in_height) const {
  const std::pair<int64_t, int64_t> key(in_width, in_height);
  {
    std::lock_guard<std::mutex> lock(cache_->mu);
    auto it = cache_->by_input_size.find(key);
    if (it != cache_->by_input_size.end()) return it->second;
  }
  // Computed outside the lock; a concurrent miss on the same size computes the same table.
  absl::StatusOr<ImageResizer> resizer =
      ImageResizer::Create(in_width, in_height, options_.width, options_.height, filter_);
  if (!resizer.ok()) return resizer.status();
  auto shared = std::make_shared<const ImageResizer>(*std::move(resizer));
  std::lock_guard<std::mutex> lock(cache_->mu);
  // Camera streams use a handful of sizes; a stream of odd sizes must not grow the cache forever.
  if (cache_->by_input_size.size() >= kMaxCachedResizers) cache_->by_input_size.clear();
  cache_->by_input_size.emplace(key, shared);
  return shared;
}

absl::Status ImageProcessor::ProcessInto(const Image& image, float* out) const {
  if (!image.valid()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image processor input is %dx%d with %d bytes, not a valid RGB image", image.width,
        image.height, image.pixels.size()));
  }
  const bool same_size = image.width == options_.width && image.height == options_.height;
  if (!options_.do_resize && !same_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image is %dx%d but do_resize is false and the model takes %dx%d images", image.width,
        image.height, options_.width, options_.height));
  }
  // PIL's resize to the same size is a copy: skip it.
  Image resized_storage;
  const Image* resized = &image;
  if (!same_size) {
    absl::StatusOr<std::shared_ptr<const ImageResizer>> resizer =
        ResizerFor(image.width, image.height);
    if (!resizer.ok()) return resizer.status();
    absl::StatusOr<Image> out = (*resizer)->Resize(image);
    if (!out.ok()) return out.status();
    resized_storage = *std::move(out);
    resized = &resized_storage;
  }

  const int64_t plane = options_.height * options_.width;
  const uint8_t* p = resized->pixels.data();
  for (int64_t i = 0; i < plane; ++i, p += 3) {
    out[i] = lut_[0][p[0]];
    out[plane + i] = lut_[1][p[1]];
    out[2 * plane + i] = lut_[2][p[2]];
  }
  return absl::OkStatus();
}

absl::StatusOr<ProcessedImage> ImageProcessor::Process(absl::string_view encoded) const {
  DecodeOptions decode_options;
  decode_options.max_pixels = options_.max_pixels;
  absl::StatusOr<Image> image = DecodeImage(encoded, decode_options);
  if (!image.ok()) return image.status();
  ProcessedImage processed;
  processed.content_hash = ContentHash(*image);
  processed.source_width = image->width;
  processed.source_height = image->height;
  processed.pixel_values.resize(static_cast<size_t>(output_size()));
  absl::Status status = ProcessInto(*image, processed.pixel_values.data());
  if (!status.ok()) return status;
  return processed;
}

}  // namespace drivelm::engine
