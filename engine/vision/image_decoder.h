// Image decoding: JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng) bytes to 8-bit RGB,
// giving the same pixels as PIL's `Image.open(io.BytesIO(bytes)).convert("RGB")`, which is what
// Hugging Face's image processors see (convert_rgb). The format is sniffed from magic bytes.
//
// PIL's conversions to RGB, reproduced here (verified against Pillow 13 with
// tools/reference/image/make_image_goldens.py):
// - JPEG: libjpeg-turbo with the accurate integer IDCT and fancy upsampling (PIL's and libjpeg's
//   defaults); grayscale replicated; CMYK/YCCK decoded to CMYK, inverted as Adobe writes it
//   ("CMYK;I") and converted with PIL's cmyk2rgb. Truncated files are errors (PIL: "image file
//   is truncated"); other libjpeg warnings (corrupt but complete data) are not, as in PIL.
// - PNG: alpha is dropped, never composited; tRNS is ignored; palette entries past PLTE's end are
//   black; 1/2/4-bit gray is scaled to 0..255; 16-bit RGB, RGBA and gray+alpha keep the high byte
//   ("RGB;16B"); 16-bit gray is PIL mode "I;16", whose conversion to RGB clamps: min(v, 255).
//
// Thread safety: the functions are reentrant; each call uses its own decoder state.
#ifndef DRIVELM_ENGINE_VISION_IMAGE_DECODER_H_
#define DRIVELM_ENGINE_VISION_IMAGE_DECODER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/vision/image.h"

namespace drivelm::engine {

enum class ImageFormat {
  kJpeg,  // starts FF D8 FF
  kPng,   // starts 89 'P' 'N' 'G' 0D 0A 1A 0A
};

const char* ImageFormatName(ImageFormat format);  // "JPEG", "PNG"

// 4096 x 4096: far above a 1600x900 camera frame, and bounds a decode to 48 MiB of RGB.
inline constexpr int64_t kDefaultMaxPixels = int64_t{4096} * 4096;

struct DecodeOptions {
  // Images with more pixels (width * height) than this are refused from the header, before any
  // pixel memory is allocated or any pixel is decoded. Must be positive.
  int64_t max_pixels = kDefaultMaxPixels;
};

struct ImageHeader {
  ImageFormat format = ImageFormat::kJpeg;
  int64_t width = 0;
  int64_t height = 0;
};

// The format named by the leading magic bytes; InvalidArgument for anything else (empty input
// included).
absl::StatusOr<ImageFormat> DetectImageFormat(absl::string_view bytes);

// Format and dimensions from the header alone (no pixel decoding). InvalidArgument when the
// header is unreadable or a dimension is zero.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes);

// Decodes `bytes` to RGB as described above. Every failure is InvalidArgument naming the format
// and the cause: empty or unrecognized data, zero-sized, over `options.max_pixels`, truncated,
// corrupt, or an unsupported variant (e.g. 12-bit JPEG, which PIL refuses too).
absl::StatusOr<Image> DecodeImage(absl::string_view bytes, const DecodeOptions& options = {});

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_VISION_IMAGE_DECODER_H_
