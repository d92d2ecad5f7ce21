#include "engine/vision/image_decoder.h"

#include <turbojpeg.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/vision/content_hash.h"
#include "engine/vision/golden_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;
using testing::ComparePixels;
using testing::LoadGoldenIndex;
using testing::ReadTestData;

std::string MustRead(const std::string& relative) {
  absl::StatusOr<std::string> data = ReadTestData(relative);
  EXPECT_TRUE(data.ok()) << data.status();
  return data.ok() ? *data : std::string();
}

void ExpectInvalid(const absl::StatusOr<Image>& result, const std::string& substring) {
  ASSERT_FALSE(result.ok()) << "decoded a " << result->width << "x" << result->height << " image";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(substring));
}

// ---------------------------------------------------------------------------------------------
// Goldens: PIL's Image.open(...).convert("RGB").

TEST(ImageDecoderTest, MatchesPilOnEveryGoldenImage) {
  absl::StatusOr<nlohmann::json> index = LoadGoldenIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  const nlohmann::json& entries = (*index)["decode"];
  ASSERT_GE(entries.size(), 20u);
  int with_pixels = 0;
  for (const nlohmann::json& entry : entries) {
    const std::string file = entry["file"];
    SCOPED_TRACE(file + " (PIL mode " + entry["pil_mode"].get<std::string>() + ")");
    const std::string bytes = MustRead(file);
    absl::StatusOr<Image> image = DecodeImage(bytes);
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->width, entry["width"].get<int64_t>());
    EXPECT_EQ(image->height, entry["height"].get<int64_t>());
    ASSERT_TRUE(image->valid());
    // The hash covers every pixel, so this alone proves identity with PIL's decode.
    EXPECT_EQ(absl::StrFormat("0x%016x", ContentHash(*image)),
              entry["content_hash"].get<std::string>());
    if (entry.contains("rgb")) {
      const std::string expected = MustRead(entry["rgb"]);
      const testing::PixelDiff diff =
          ComparePixels(image->pixels, std::vector<uint8_t>(expected.begin(), expected.end()));
      EXPECT_EQ(image->pixels.size(), expected.size());
      EXPECT_EQ(diff.equal, diff.count) << diff.ToString();
      ++with_pixels;
    }

    absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->width, image->width);
    EXPECT_EQ(header->height, image->height);
    EXPECT_EQ(header->format,
              file.substr(file.size() - 4) == ".png" ? ImageFormat::kPng : ImageFormat::kJpeg);
  }
  EXPECT_GE(with_pixels, 20);
}

TEST(ImageDecoderTest, DetectsFormatFromMagicBytes) {
  EXPECT_EQ(*DetectImageFormat(MustRead("images/rgb420_61x47.jpg")), ImageFormat::kJpeg);
  EXPECT_EQ(*DetectImageFormat(MustRead("images/rgb_37x23.png")), ImageFormat::kPng);
  EXPECT_STREQ(ImageFormatName(ImageFormat::kJpeg), "JPEG");
  EXPECT_STREQ(ImageFormatName(ImageFormat::kPng), "PNG");
}

// A warning that is not about missing data leaves a complete image: PIL decodes it unchanged.
TEST(ImageDecoderTest, ExtraneousBytesBeforeEoiAreAcceptedAsPilDoes) {
  std::string bytes = MustRead("images/rgb420_160x90.jpg");
  ASSERT_EQ(static_cast<uint8_t>(bytes[bytes.size() - 2]), 0xFF);
  ASSERT_EQ(static_cast<uint8_t>(bytes[bytes.size() - 1]), 0xD9);
  const absl::StatusOr<Image> original = DecodeImage(bytes);
  ASSERT_TRUE(original.ok()) << original.status();
  bytes.insert(bytes.size() - 2, std::string(3, '\0'));
  const absl::StatusOr<Image> padded = DecodeImage(bytes);
  ASSERT_TRUE(padded.ok()) << padded.status();
  EXPECT_EQ(padded->pixels, original->pixels);
}

// PIL stops after the image data; a PNG without its IEND chunk decodes.
TEST(ImageDecoderTest, PngWithoutIendDecodesAsPilDoes) {
  const std::string bytes = MustRead("images/rgb_37x23.png");
  const absl::StatusOr<Image> full = DecodeImage(bytes);
  ASSERT_TRUE(full.ok()) << full.status();
  const absl::StatusOr<Image> cut = DecodeImage(bytes.substr(0, bytes.size() - 12));
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(cut->pixels, full->pixels);
}

// ---------------------------------------------------------------------------------------------
// Limits.

TEST(ImageDecoderTest, MaxPixelsIsInclusive) {
  for (const char* file : {"images/rgb420_160x90.jpg", "images/rgb_37x23.png"}) {
    SCOPED_TRACE(file);
    const std::string bytes = MustRead(file);
    const absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
    ASSERT_TRUE(header.ok()) << header.status();
    DecodeOptions options;
    options.max_pixels = header->width * header->height;
    EXPECT_TRUE(DecodeImage(bytes, options).ok());
    options.max_pixels -= 1;
    ExpectInvalid(DecodeImage(bytes, options), "over the limit");
  }
}

TEST(ImageDecoderTest, RejectsNonPositiveMaxPixels) {
  DecodeOptions options;
  options.max_pixels = 0;
  ExpectInvalid(DecodeImage(MustRead("images/rgb_37x23.png"), options), "max_pixels");
}

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string BigEndian32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string PngChunk(const std::string& type, const std::string& data) {
  return BigEndian32(static_cast<uint32_t>(data.size())) + type + data +
         BigEndian32(Crc32(type + data));
}

// A PNG whose IHDR claims `width` x `height` RGB and whose (tiny) IDAT holds almost nothing.
std::string PngWithHeader(uint32_t width, uint32_t height) {
  const std::string ihdr = BigEndian32(width) + BigEndian32(height) + std::string("\x08\x02\0\0\0", 5);
  // zlib stream of a few zero bytes: header 78 9c, stored block... any short valid deflate.
  const std::string idat("\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9);
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IDAT", idat) +
         PngChunk("IEND", "");
}

TEST(ImageDecoderTest, HugePngIsRefusedFromItsHeader) {
  // 100000 x 100000 would be 30 GB of RGB: refused before any allocation.
  const std::string bytes = PngWithHeader(100000, 100000);
  const absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->width, 100000);
  ExpectInvalid(DecodeImage(bytes), "over the limit");
}

TEST(ImageDecoderTest, ZeroSizedPngIsRejected) {
  ExpectInvalid(DecodeImage(PngWithHeader(0, 10)), "width is zero");
  ExpectInvalid(DecodeImage(PngWithHeader(10, 0)), "height is zero");
  EXPECT_FALSE(ReadImageHeader(PngWithHeader(0, 10)).ok());
}

// Offset of the SOFn marker segment's height field in a baseline/progressive JPEG.
size_t SofHeightOffset(const std::string& jpeg) {
  for (size_t i = 2; i + 8 < jpeg.size(); ++i) {
    const uint8_t a = jpeg[i], b = jpeg[i + 1];
    if (a == 0xFF && (b == 0xC0 || b == 0xC1 || b == 0xC2)) return i + 5;
  }
  return std::string::npos;
}

TEST(ImageDecoderTest, HugeJpegIsRefusedFromItsHeader) {
  std::string bytes = MustRead("images/rgb420_160x90.jpg");
  const size_t at = SofHeightOffset(bytes);
  ASSERT_NE(at, std::string::npos);
  // 65000 x 65000.
  bytes[at] = static_cast<char>(0xFD);
  bytes[at + 1] = static_cast<char>(0xE8);
  bytes[at + 2] = static_cast<char>(0xFD);
  bytes[at + 3] = static_cast<char>(0xE8);
  ExpectInvalid(DecodeImage(bytes), "over the limit");
}

TEST(ImageDecoderTest, ZeroSizedJpegIsRejected) {
  std::string bytes = MustRead("images/rgb420_160x90.jpg");
  const size_t at = SofHeightOffset(bytes);
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 0;
  bytes[at + 1] = 0;  // height 0 (a DNL-defined height, which libjpeg does not support)
  const absl::StatusOr<Image> result = DecodeImage(bytes);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
}

// ---------------------------------------------------------------------------------------------
// Bad input: each a clear InvalidArgument, never a crash.

TEST(ImageDecoderTest, EmptyInput) {
  ExpectInvalid(DecodeImage(""), "empty");
  EXPECT_EQ(ReadImageHeader("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ImageDecoderTest, UnknownFormat) {
  ExpectInvalid(DecodeImage("GIF89a....."), "unsupported image format");
  ExpectInvalid(DecodeImage(std::string(1, '\xFF')), "unsupported image format");
  std::string random(4096, '\0');
  uint64_t state = 12345;
  for (char& c : random) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(state >> 56);
  }
  random[0] = 'x';
  ExpectInvalid(DecodeImage(random), "unsupported image format");
}

TEST(ImageDecoderTest, MagicFollowedByGarbage) {
  ExpectInvalid(DecodeImage(std::string("\xFF\xD8\xFF", 3)), "JPEG");
  ExpectInvalid(DecodeImage(std::string("\xFF\xD8\xFF\xE0garbage garbage garbage", 26)), "JPEG");
  ExpectInvalid(DecodeImage(std::string("\x89PNG\r\n\x1a\n", 8)), "PNG");
  ExpectInvalid(DecodeImage(std::string("\x89PNG\r\n\x1a\ngarbage garbage garbage", 31)), "PNG");
}

TEST(ImageDecoderTest, TruncatedJpegIsAnErrorAsInPil) {
  for (const char* file : {"images/rgb420_160x90.jpg", "images/rgb420_progressive_61x47.jpg",
                           "images/gray_61x47.jpg", "images/cmyk_61x47.jpg"}) {
    const std::string bytes = MustRead(file);
    // Cuts in the headers, in the scan data, and of the EOI marker alone (PIL also refuses
    // that: libjpeg reads past the last MCU looking for the marker).
    for (size_t keep : {size_t{3}, size_t{20}, size_t{200}, bytes.size() / 2,
                        bytes.size() - 100, bytes.size() - 2, bytes.size() - 1}) {
      SCOPED_TRACE(absl::StrFormat("%s cut to %d of %d bytes", file, keep, bytes.size()));
      const absl::StatusOr<Image> result = DecodeImage(bytes.substr(0, keep));
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
      EXPECT_THAT(std::string(result.status().message()), HasSubstr("JPEG"));
    }
  }
  const std::string bytes = MustRead("images/rgb420_160x90.jpg");
  ExpectInvalid(DecodeImage(bytes.substr(0, bytes.size() / 2)), "truncated");
}

TEST(ImageDecoderTest, TruncatedPngIsAnError) {
  for (const char* file : {"images/rgb_37x23.png", "images/rgb16_37x23.png",
                           "images/rgb_interlaced_37x23.png", "images/palette4_trns_37x23.png"}) {
    const std::string bytes = MustRead(file);
    // Cuts in the signature, IHDR, and the image data (IEND and the IDAT's CRC are the last
    // 12 + 4 bytes; keep - 16 is inside the compressed data).
    for (size_t keep : {size_t{5}, size_t{8}, size_t{20}, size_t{40}, bytes.size() / 2,
                        bytes.size() - 20}) {
      SCOPED_TRACE(absl::StrFormat("%s cut to %d of %d bytes", file, keep, bytes.size()));
      const absl::StatusOr<Image> result = DecodeImage(bytes.substr(0, keep));
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    }
  }
  const std::string bytes = MustRead("images/rgb_37x23.png");
  ExpectInvalid(DecodeImage(bytes.substr(0, bytes.size() / 2)), "truncated");
}

// Random corruption of valid files: any outcome but a crash (the ASan config makes this a
// memory-safety check too).
TEST(ImageDecoderTest, CorruptedBytesNeverCrash) {
  uint64_t state = 99;
  auto next = [&state]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  int failures = 0;
  int decoded = 0;
  for (const char* file :
       {"images/rgb420_160x90.jpg", "images/rgb420_progressive_61x47.jpg", "images/cmyk_61x47.jpg",
        "images/rgb_37x23.png", "images/palette4_trns_37x23.png", "images/rgb16_37x23.png",
        "images/rgb_interlaced_37x23.png"}) {
    const std::string original = MustRead(file);
    for (int trial = 0; trial < 150; ++trial) {
      std::string bytes = original;
      const int flips = 1 + static_cast<int>(next() % 8);
      for (int f = 0; f < flips; ++f) {
        // Keep the magic so the format decoder, not the sniffer, sees the damage.
        const size_t at = 8 + next() % (bytes.size() - 8);
        bytes[at] = static_cast<char>(next());
      }
      const absl::StatusOr<Image> result = DecodeImage(bytes);
      if (result.ok()) {
        EXPECT_TRUE(result->valid());
        ++decoded;
      } else {
        EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
        ++failures;
      }
    }
  }
  // PNG's CRCs catch nearly every flip; JPEG decodes through most of them, as PIL does.
  EXPECT_GT(failures, 100);
  EXPECT_GT(decoded, 50);
}

// 12-bit JPEGs: PIL refuses them ("cannot handle 12-bit layers"), and so do we.
TEST(ImageDecoderTest, TwelveBitJpegIsRejected) {
  std::string bytes = MustRead("images/rgb420_160x90.jpg");
  const size_t at = SofHeightOffset(bytes);
  ASSERT_NE(at, std::string::npos);
  bytes[at - 1] = 12;  // sample precision
  const absl::StatusOr<Image> result = DecodeImage(bytes);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
}

}  // namespace
}  // namespace drivelm::engine
