#include "engine/vision/image_processor.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/vision/content_hash.h"
#include "engine/vision/golden_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;
using testing::FloatsFromBytes;
using testing::LoadGoldenIndex;
using testing::ReadTestData;
using testing::SyntheticImage;

ImageProcessorOptions OptionsFromGolden(const nlohmann::json& entry) {
  ImageProcessorOptions options;
  options.height = entry["height"];
  options.width = entry["width"];
  options.resample = entry["resample"];
  options.rescale_factor = entry["rescale_factor"];
  for (int c = 0; c < 3; ++c) {
    options.image_mean[c] = entry["image_mean"][c];
    options.image_std[c] = entry["image_std"][c];
  }
  return options;
}

struct FloatDiff {
  int64_t equal = 0;
  double max_abs = 0;
};

FloatDiff CompareFloats(const std::vector<float>& actual, const std::vector<float>& expected) {
  FloatDiff diff;
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    diff.equal += actual[i] == expected[i];
    diff.max_abs = std::max(diff.max_abs, static_cast<double>(std::fabs(actual[i] - expected[i])));
  }
  return diff;
}

// transformers SiglipImageProcessor end to end on files (decode -> resize -> rescale ->
// normalize). The resize is bit-exact, so the floats are too; the stated bound is 1e-6.
TEST(ImageProcessorTest, MatchesTransformersSiglipImageProcessor) {
  absl::StatusOr<nlohmann::json> index = LoadGoldenIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_GE((*index)["processor"].size(), 3u);
  for (const nlohmann::json& entry : (*index)["processor"]) {
    SCOPED_TRACE(entry["file"].get<std::string>());
    absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(OptionsFromGolden(entry));
    ASSERT_TRUE(processor.ok()) << processor.status();
    absl::StatusOr<std::string> bytes = ReadTestData(entry["file"]);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<ProcessedImage> processed = processor->Process(*bytes);
    ASSERT_TRUE(processed.ok()) << processed.status();
    absl::StatusOr<std::string> golden = ReadTestData(entry["pixel_values"]);
    ASSERT_TRUE(golden.ok()) << golden.status();
    const std::vector<float> expected = FloatsFromBytes(*golden);
    ASSERT_EQ(processed->pixel_values.size(), expected.size());
    ASSERT_EQ(static_cast<int64_t>(expected.size()), processor->output_size());
    const FloatDiff diff = CompareFloats(processed->pixel_values, expected);
    EXPECT_LE(diff.max_abs, 1e-6);
    EXPECT_EQ(diff.equal, static_cast<int64_t>(expected.size()))
        << "max |diff| " << diff.max_abs;

    // The hash is the decoded image's, as listed in the decode goldens.
    for (const nlohmann::json& decoded : (*index)["decode"]) {
      if (decoded["file"] == entry["file"]) {
        EXPECT_EQ(absl::StrFormat("0x%016x", processed->content_hash),
                  decoded["content_hash"].get<std::string>());
        EXPECT_EQ(processed->source_width, decoded["width"].get<int64_t>());
        EXPECT_EQ(processed->source_height, decoded["height"].get<int64_t>());
      }
    }
  }
}

// Every uint8 value in every channel through rescale + normalize, for several mean/std/rescale
// settings (no resize: the image has the processor's size).
TEST(ImageProcessorTest, RescaleAndNormalizeMatchTransformersForEveryValue) {
  absl::StatusOr<nlohmann::json> index = LoadGoldenIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_GE((*index)["processor_lut"].size(), 3u);
  Image image;
  image.width = 16;
  image.height = 16;
  image.pixels.resize(16 * 16 * 3);
  for (int v = 0; v < 256; ++v) {
    for (int c = 0; c < 3; ++c) image.pixels[3 * v + c] = static_cast<uint8_t>((v + 85 * c) % 256);
  }
  for (const nlohmann::json& entry : (*index)["processor_lut"]) {
    SCOPED_TRACE(entry["pixel_values"].get<std::string>());
    absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(OptionsFromGolden(entry));
    ASSERT_TRUE(processor.ok()) << processor.status();
    std::vector<float> out(static_cast<size_t>(processor->output_size()));
    ASSERT_TRUE(processor->ProcessInto(image, out.data()).ok());
    absl::StatusOr<std::string> golden = ReadTestData(entry["pixel_values"]);
    ASSERT_TRUE(golden.ok()) << golden.status();
    const std::vector<float> expected = FloatsFromBytes(*golden);
    ASSERT_EQ(out.size(), expected.size());
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(out[i], expected[i]) << "index " << i << " (channel " << i / 256 << ")";
    }
  }
}

TEST(ImageProcessorTest, OutputIsChannelsFirst) {
  ImageProcessorOptions options;
  options.height = 2;
  options.width = 3;
  options.do_normalize = false;
  options.do_rescale = false;
  absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(options);
  ASSERT_TRUE(processor.ok()) << processor.status();
  Image image;
  image.width = 3;
  image.height = 2;
  for (int i = 0; i < 6; ++i) {
    image.pixels.push_back(static_cast<uint8_t>(i));        // R
    image.pixels.push_back(static_cast<uint8_t>(100 + i));  // G
    image.pixels.push_back(static_cast<uint8_t>(200 + i));  // B
  }
  std::vector<float> out(18);
  ASSERT_TRUE(processor->ProcessInto(image, out.data()).ok());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i], i);
    EXPECT_EQ(out[6 + i], 100 + i);
    EXPECT_EQ(out[12 + i], 200 + i);
  }
}

TEST(ImageProcessorTest, OptionsFromModelConfig) {
  ImageProcessorConfig config;
  config.height = 448;
  config.width = 336;
  config.resample = 2;
  config.do_rescale = false;
  config.rescale_factor = 0.5;
  config.do_normalize = false;
  config.do_resize = false;
  config.image_mean = {0.1, 0.2, 0.3};
  config.image_std = {0.4, 0.5, 0.6};
  const ImageProcessorOptions options = OptionsFromConfig(config, 1000);
  EXPECT_EQ(options.height, 448);
  EXPECT_EQ(options.width, 336);
  EXPECT_EQ(options.resample, 2);
  EXPECT_FALSE(options.do_rescale);
  EXPECT_EQ(options.rescale_factor, 0.5);
  EXPECT_FALSE(options.do_normalize);
  EXPECT_FALSE(options.do_resize);
  EXPECT_EQ(options.image_mean, config.image_mean);
  EXPECT_EQ(options.image_std, config.image_std);
  EXPECT_EQ(options.max_pixels, 1000);
  // PaliGemma's defaults agree on both sides.
  const ImageProcessorOptions defaults = OptionsFromConfig(ImageProcessorConfig{});
  const ImageProcessorOptions expected;
  EXPECT_EQ(defaults.height, expected.height);
  EXPECT_EQ(defaults.resample, expected.resample);
  EXPECT_EQ(defaults.rescale_factor, expected.rescale_factor);
  EXPECT_EQ(defaults.image_mean, expected.image_mean);
  EXPECT_EQ(defaults.max_pixels, kDefaultMaxPixels);
}

TEST(ImageProcessorTest, WithoutResizeTheSizeMustMatch) {
  ImageProcessorOptions options;
  options.do_resize = false;
  options.height = 23;
  options.width = 37;
  absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(options);
  ASSERT_TRUE(processor.ok());
  std::vector<float> out(static_cast<size_t>(processor->output_size()));
  EXPECT_TRUE(processor->ProcessInto(SyntheticImage("noise", 37, 23, 1), out.data()).ok());
  const absl::Status wrong = processor->ProcessInto(SyntheticImage("noise", 23, 37, 1), out.data());
  EXPECT_EQ(wrong.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.message()), HasSubstr("do_resize is false"));
}

TEST(ImageProcessorTest, RejectsBadOptions) {
  auto expect_invalid = [](ImageProcessorOptions options, const std::string& substring) {
    absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(options);
    ASSERT_FALSE(processor.ok());
    EXPECT_EQ(processor.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(processor.status().message()), HasSubstr(substring));
  };
  ImageProcessorOptions options;
  options.height = 0;
  expect_invalid(options, "size must be positive");
  options = {};
  options.resample = 0;
  expect_invalid(options, "resample 0");
  options = {};
  options.image_std[1] = 0.0;
  expect_invalid(options, "image_std[1]");
  options = {};
  options.max_pixels = 0;
  expect_invalid(options, "max_pixels");
  options = {};
  options.rescale_factor = -1.0;
  expect_invalid(options, "rescale_factor");
}

TEST(ImageProcessorTest, BadInputIsAnError) {
  absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create({});
  ASSERT_TRUE(processor.ok());
  EXPECT_EQ(processor->Process("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(processor->Process("not an image").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> out(static_cast<size_t>(processor->output_size()));
  Image broken;
  broken.width = 10;
  broken.height = 10;
  broken.pixels.resize(10);
  EXPECT_EQ(processor->ProcessInto(broken, out.data()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ImageProcessorTest, MaxPixelsBoundsDecoding) {
  ImageProcessorOptions options;
  options.max_pixels = 160 * 90 - 1;
  absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(options);
  ASSERT_TRUE(processor.ok());
  absl::StatusOr<std::string> bytes = ReadTestData("images/rgb420_160x90.jpg");
  ASSERT_TRUE(bytes.ok());
  absl::StatusOr<ProcessedImage> processed = processor->Process(*bytes);
  ASSERT_FALSE(processed.ok());
  EXPECT_THAT(std::string(processed.status().message()), HasSubstr("over the limit"));
}

// Many input sizes (past the resizer cache's bound) and concurrent callers give the same result
// as a fresh single-threaded run.
TEST(ImageProcessorTest, ConcurrentUseAndManySizes) {
  ImageProcessorOptions options;
  options.height = 24;
  options.width = 40;
  absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create(options);
  ASSERT_TRUE(processor.ok());
  std::vector<Image> images;
  for (int i = 0; i < 40; ++i) images.push_back(SyntheticImage("scene", 20 + i, 30 + 2 * i, i));
  std::vector<std::vector<float>> reference(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    absl::StatusOr<ImageProcessor> fresh = ImageProcessor::Create(options);
    reference[i].resize(static_cast<size_t>(fresh->output_size()));
    ASSERT_TRUE(fresh->ProcessInto(images[i], reference[i].data()).ok());
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t]() {
      std::vector<float> out(static_cast<size_t>(processor->output_size()));
      for (int round = 0; round < 3; ++round) {
        for (size_t i = t; i < images.size() + t; ++i) {
          const size_t k = i % images.size();
          if (!processor->ProcessInto(images[k], out.data()).ok() || out != reference[k]) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace drivelm::engine
