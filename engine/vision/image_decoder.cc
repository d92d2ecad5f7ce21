#include "engine/vision/image_decoder.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace drivelm::engine {
namespace {

constexpr unsigned char kJpegMagic[] = {0xFF, 0xD8, 0xFF};
constexpr unsigned char kPngMagic[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

bool StartsWith(absl::string_view bytes, const unsigned char* magic, size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

absl::Status CheckNonEmpty(ImageFormat format, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s image has zero size: %dx%d", ImageFormatName(format), width, height));
  }
  return absl::OkStatus();
}

// Checked from the header, before any pixel memory is allocated.
absl::Status CheckDimensions(ImageFormat format, int64_t width, int64_t height,
                             int64_t max_pixels) {
  absl::Status non_empty = CheckNonEmpty(format, width, height);
  if (!non_empty.ok()) return non_empty;
  if (max_pixels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("DecodeOptions.max_pixels must be positive, got %d", max_pixels));
  }
  // width and height come from 16-bit (JPEG) or 31-bit (PNG) fields: the product fits int64.
  if (width * height > max_pixels) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s image is %dx%d = %d pixels, over the limit of %d pixels", ImageFormatName(format),
        width, height, width * height, max_pixels));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// JPEG

struct TjDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

struct JpegInfo {
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;  // TJCS_*
};

absl::StatusOr<JpegInfo> ReadJpegInfo(tjhandle handle, absl::string_view bytes) {
  JpegInfo info;
  if (tjDecompressHeader3(handle, reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<unsigned long>(bytes.size()), &info.width, &info.height,
                          &info.subsampling, &info.colorspace) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG header is unreadable: ", tjGetErrorStr2(handle)));
  }
  return info;
}

// PIL reads CMYK JPEGs as "CMYK;I" (inverted, Adobe's convention) and converts to RGB with
// cmyk2rgb: nk = 255 - k; c' = clip(nk - nk * c / 255) with MULDIV255's rounding. With PIL's
// inverted values (c = 255 - raw), nk is the raw K sample.
inline uint8_t MulDiv255(int a, int b) {
  const int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

void CmykToRgb(const uint8_t* cmyk, int64_t num_pixels, uint8_t* rgb) {
  for (int64_t i = 0; i < num_pixels; ++i, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - (255 - raw_k)
    for (int c = 0; c < 3; ++c) {
      const int value = nk - MulDiv255(255 - cmyk[c], nk);
      rgb[c] = static_cast<uint8_t>(std::clamp(value, 0, 255));
    }
  }
}

absl::StatusOr<Image> DecodeJpeg(absl::string_view bytes, const DecodeOptions& options) {
  TjHandle handle(tjInitDecompress());
  if (handle == nullptr) {
    return absl::InternalError(absl::StrCat("tjInitDecompress failed: ", tjGetErrorStr2(nullptr)));
  }
  absl::StatusOr<JpegInfo> info = ReadJpegInfo(handle.get(), bytes);
  if (!info.ok()) return info.status();
  absl::Status dims = CheckDimensions(ImageFormat::kJpeg, info->width, info->height,
                                      options.max_pixels);
  if (!dims.ok()) return dims;

  bool cmyk = false;
  switch (static_cast<TJCS>(info->colorspace)) {
    case TJCS_RGB:
    case TJCS_YCbCr:
    case TJCS_GRAY:  // libjpeg replicates gray into RGB exactly as PIL's L -> RGB does
      break;
    case TJCS_CMYK:
    case TJCS_YCCK:
      cmyk = true;
      break;
  }

  Image image;
  image.width = info->width;
  image.height = info->height;
  image.pixels.resize(static_cast<size_t>(image.num_values()));
  std::vector<uint8_t> cmyk_pixels;
  if (cmyk) cmyk_pixels.resize(static_cast<size_t>(image.width * image.height * 4));

  // ACCURATEDCT (JDCT_ISLOW) and no FASTUPSAMPLE (fancy upsampling) are PIL's settings.
  // LIMITSCANS refuses progressive JPEGs with absurd scan counts (a decoding-time bomb).
  const int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
  unsigned char* dst = cmyk ? cmyk_pixels.data() : image.pixels.data();
  const int rc = tjDecompress2(handle.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                               static_cast<unsigned long>(bytes.size()), dst, info->width,
                               /*pitch=*/0, info->height, cmyk ? TJPF_CMYK : TJPF_RGB, flags);
  if (rc != 0) {
    const std::string message = tjGetErrorStr2(handle.get());
    if (tjGetErrorCode(handle.get()) == TJERR_FATAL) {
      return absl::InvalidArgumentError(
          absl::StrCat("JPEG data is corrupt or unsupported: ", message));
    }
    // A warning. TurboJPEG keeps the first one. Running out of data ("Premature end of JPEG
    // file", libjpeg's JWRN_JPEG_EOF) is PIL's "image file is truncated" error; other warnings
    // (e.g. extraneous bytes before a marker) leave a complete image that PIL accepts.
    if (absl::StrContains(message, "Premature end of JPEG file")) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "JPEG image file is truncated (%d bytes for a %dx%d image): %s", bytes.size(),
          info->width, info->height, message));
    }
  }
  if (cmyk) CmykToRgb(cmyk_pixels.data(), image.width * image.height, image.pixels.data());
  return image;
}

// ---------------------------------------------------------------------------------------------
// PNG
//
// libpng reports errors by longjmp-ing to the setjmp in the function that called into it. The
// two functions that call setjmp (PngReadInfo, PngReadRows) create no object with a non-trivial
// destructor, and the callbacks that longjmp are plain C-style functions, so no C++ destructor
// is ever skipped. Buffers are owned by the caller's frame, outside the jump.

struct PngSource {
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t offset = 0;
  char error[200] = {};    // the libpng error that ended decoding
  char warning[200] = {};  // the last libpng warning (often the detail behind the error)
};

void PngError(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->error, sizeof(source->error), "%s", message);
  png_longjmp(png, 1);
}

// Warnings (unknown chunks, bad ancillary CRCs, ...) change no pixel and do not stop decoding;
// PIL ignores them too. The last one is kept to explain a following error ("Invalid IHDR data"
// comes after "Image width is zero in IHDR").
void PngWarning(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->warning, sizeof(source->warning), "%s", message);
}

void PngRead(png_structp png, png_bytep out, size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->size - source->offset < length) {
    std::snprintf(source->error, sizeof(source->error),
                  "image file is truncated (needed %zu bytes at offset %zu of %zu)", length,
                  source->offset, source->size);
    png_longjmp(png, 1);
  }
  std::memcpy(out, source->data + source->offset, length);
  source->offset += length;
}

struct PngInfo {
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int color_type = 0;
  size_t rowbytes = 0;
  int num_palette = 0;
  png_colorp palette = nullptr;  // owned by libpng's info struct
};

// Reads the chunks up to the first IDAT and sets the transforms: packing of 1/2/4-bit samples
// into one byte each (unscaled) and interlace handling. Everything else is converted here, to
// reproduce PIL rather than libpng's own expansions. Returns false on a libpng error.
bool PngReadInfo(png_structp png, png_infop info, PngInfo* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->bit_depth = png_get_bit_depth(png, info);
  out->color_type = png_get_color_type(png, info);
  if (out->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_get_PLTE(png, info, &out->palette, &out->num_palette);
  }
  if (out->bit_depth < 8) png_set_packing(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool PngReadRows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  // No png_read_end: PIL stops after the image data and tolerates a missing IEND.
  png_read_image(png, rows);
  return true;
}

struct PngDestroyer {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngDestroyer() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

absl::Status PngStatus(const PngSource& source, absl::string_view stage) {
  return absl::InvalidArgumentError(
      absl::StrCat("PNG ", stage, " failed: ", source.error[0] ? source.error : "unknown error",
                   source.warning[0] ? absl::StrCat(" (", source.warning, ")") : ""));
}

// Samples per pixel of the rows libpng returns, for the transforms set in PngReadInfo.
int PngChannels(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_PALETTE:
      return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return 4;
    default:
      return 0;
  }
}

// One row of libpng output to RGB, as PIL's PNG modes then convert("RGB") do.
void PngRowToRgb(const PngInfo& info, const uint8_t* palette_rgb /* [256 * 3] */,
                 const uint8_t* in, int64_t width, uint8_t* out) {
  const int channels = PngChannels(info.color_type);
  if (info.bit_depth == 16) {
    if (info.color_type == PNG_COLOR_TYPE_GRAY) {
      // PIL mode "I;16" -> "RGB" clamps the 16-bit value to 255; it does not rescale.
      for (int64_t x = 0; x < width; ++x, in += 2, out += 3) {
        const int value = (in[0] << 8) | in[1];
        out[0] = out[1] = out[2] = static_cast<uint8_t>(std::min(value, 255));
      }
      return;
    }
    // "RGB;16B", "RGBA;16B", "LA;16B": the high (first, big-endian) byte of each sample.
    for (int64_t x = 0; x < width; ++x, in += 2 * channels, out += 3) {
      if (channels >= 3) {
        out[0] = in[0];
        out[1] = in[2];
        out[2] = in[4];
      } else {
        out[0] = out[1] = out[2] = in[0];
      }
    }
    return;
  }
  switch (info.color_type) {
    case PNG_COLOR_TYPE_GRAY: {
      // 1/2/4-bit gray ("1", "L;2", "L;4") scales to 0..255: 255, 85, 17 per step.
      const int scale = 255 / ((1 << info.bit_depth) - 1);
      for (int64_t x = 0; x < width; ++x, out += 3) {
        out[0] = out[1] = out[2] = static_cast<uint8_t>(in[x] * scale);
      }
      return;
    }
    case PNG_COLOR_TYPE_PALETTE:
      for (int64_t x = 0; x < width; ++x, out += 3) std::memcpy(out, palette_rgb + 3 * in[x], 3);
      return;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      for (int64_t x = 0; x < width; ++x, in += 2, out += 3) out[0] = out[1] = out[2] = in[0];
      return;
    case PNG_COLOR_TYPE_RGB:
      std::memcpy(out, in, static_cast<size_t>(width) * 3);
      return;
    case PNG_COLOR_TYPE_RGB_ALPHA:
      for (int64_t x = 0; x < width; ++x, in += 4, out += 3) std::memcpy(out, in, 3);
      return;
    default:
      return;
  }
}

absl::StatusOr<Image> DecodePng(absl::string_view bytes, const DecodeOptions& options,
                                bool header_only, ImageHeader* header) {
  PngSource source;
  source.data = reinterpret_cast<const unsigned char*>(bytes.data());
  source.size = bytes.size();
  PngDestroyer guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, PngError, PngWarning);
  if (guard.png == nullptr) return absl::InternalError("png_create_read_struct failed");
  guard.info = png_create_info_struct(guard.png);
  if (guard.info == nullptr) return absl::InternalError("png_create_info_struct failed");
  png_set_read_fn(guard.png, &source, PngRead);

  PngInfo info;
  if (!PngReadInfo(guard.png, guard.info, &info)) return PngStatus(source, "header");
  if (header != nullptr) {
    header->format = ImageFormat::kPng;
    header->width = info.width;
    header->height = info.height;
  }
  absl::Status dims = header_only
                          ? CheckNonEmpty(ImageFormat::kPng, info.width, info.height)
                          : CheckDimensions(ImageFormat::kPng, info.width, info.height,
                                            options.max_pixels);
  if (!dims.ok()) return dims;
  if (header_only) return Image{};

  const int channels = PngChannels(info.color_type);
  const size_t expected_rowbytes =
      static_cast<size_t>(info.width) * channels * (info.bit_depth == 16 ? 2 : 1);
  if (channels == 0 || info.rowbytes != expected_rowbytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PNG color type %d with bit depth %d is unsupported (row of %d bytes, expected %d)",
        info.color_type, info.bit_depth, info.rowbytes, expected_rowbytes));
  }

  // Palette padded to 256 entries with black: PIL maps indices past PLTE's end to (0, 0, 0).
  uint8_t palette_rgb[256 * 3] = {};
  if (info.color_type == PNG_COLOR_TYPE_PALETTE) {
    for (int i = 0; i < std::min(info.num_palette, 256); ++i) {
      palette_rgb[3 * i + 0] = info.palette[i].red;
      palette_rgb[3 * i + 1] = info.palette[i].green;
      palette_rgb[3 * i + 2] = info.palette[i].blue;
    }
  }

  Image image;
  image.width = info.width;
  image.height = info.height;
  image.pixels.resize(static_cast<size_t>(image.num_values()));
  // 8-bit RGB rows are already the output: decode into place. Other layouts go through a raw
  // buffer (interlaced images need every row before any is final).
  const bool direct = info.color_type == PNG_COLOR_TYPE_RGB && info.bit_depth == 8;
  std::vector<uint8_t> raw;
  if (!direct) raw.resize(info.rowbytes * info.height);
  std::vector<png_bytep> rows(info.height);
  for (png_uint_32 y = 0; y < info.height; ++y) {
    rows[y] = direct ? image.row(y) : raw.data() + y * info.rowbytes;
  }
  if (!PngReadRows(guard.png, rows.data())) return PngStatus(source, "decoding");
  if (!direct) {
    for (png_uint_32 y = 0; y < info.height; ++y) {
      PngRowToRgb(info, palette_rgb, rows[y], image.width, image.row(y));
    }
  }
  return image;
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
  }
  return "unknown";
}

absl::StatusOr<ImageFormat> DetectImageFormat(absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("image data is empty");
  if (StartsWith(bytes, kJpegMagic, sizeof(kJpegMagic))) return ImageFormat::kJpeg;
  if (StartsWith(bytes, kPngMagic, sizeof(kPngMagic))) return ImageFormat::kPng;
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    absl::StrAppendFormat(&head, "%s%02x", i ? " " : "", static_cast<uint8_t>(bytes[i]));
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "unsupported image format: %d bytes starting [%s]; expected JPEG (ff d8 ff) or PNG "
      "(89 50 4e 47 0d 0a 1a 0a)",
      bytes.size(), head));
}

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes) {
  absl::StatusOr<ImageFormat> format = DetectImageFormat(bytes);
  if (!format.ok()) return format.status();
  ImageHeader header;
  header.format = *format;
  switch (*format) {
    case ImageFormat::kJpeg: {
      TjHandle handle(tjInitDecompress());
      if (handle == nullptr) return absl::InternalError("tjInitDecompress failed");
      absl::StatusOr<JpegInfo> info = ReadJpegInfo(handle.get(), bytes);
      if (!info.ok()) return info.status();
      header.width = info->width;
      header.height = info->height;
      absl::Status dims = CheckNonEmpty(ImageFormat::kJpeg, header.width, header.height);
      if (!dims.ok()) return dims;
      return header;
    }
    case ImageFormat::kPng: {
      absl::StatusOr<Image> unused = DecodePng(bytes, DecodeOptions{}, /*header_only=*/true,
                                               &header);
      if (!unused.ok()) return unused.status();
      return header;
    }
  }
  return absl::InternalError("unreachable image format");
}

absl::StatusOr<Image> DecodeImage(absl::string_view bytes, const DecodeOptions& options) {
  absl::StatusOr<ImageFormat> format = DetectImageFormat(bytes);
  if (!format.ok()) return format.status();
  switch (*format) {
    case ImageFormat::kJpeg:
      return DecodeJpeg(bytes, options);
    case ImageFormat::kPng:
      return DecodePng(bytes, options, /*header_only=*/false, nullptr);
  }
  return absl::InternalError("unreachable image format");
}

}  // namespace drivelm::engine
