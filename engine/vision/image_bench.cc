// Micro-benchmarks of the image pipeline on the camera case: a 1600x900 JPEG (quality 90,
// 4:2:0, encoded in-process from a gradient + noise pattern) decoded and resized to 224x224.
//   bazel run -c opt //engine/vision:image_bench
#include <turbojpeg.h>

#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/vision/image_decoder.h"
#include "engine/vision/image_processor.h"
#include "engine/vision/image_resize.h"

namespace drivelm::engine {
namespace {

constexpr int kWidth = 1600;
constexpr int kHeight = 900;

Image CameraLikeImage() {
  Image image;
  image.width = kWidth;
  image.height = kHeight;
  image.pixels.resize(static_cast<size_t>(image.num_values()));
  uint64_t state = 1;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const int noise = static_cast<int>(state >> 60) - 8;
      uint8_t* p = image.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(std::min(255, std::max(0, x * 255 / kWidth + noise)));
      p[1] = static_cast<uint8_t>(std::min(255, std::max(0, y * 255 / kHeight + noise)));
      p[2] = static_cast<uint8_t>(std::min(255, std::max(0, ((x + y) & 255) + noise)));
    }
  }
  return image;
}

const std::string& CameraJpeg() {
  static const std::string* jpeg = [] {
    const Image image = CameraLikeImage();
    tjhandle handle = tjInitCompress();
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    if (handle == nullptr ||
        tjCompress2(handle, image.pixels.data(), kWidth, 0, kHeight, TJPF_RGB, &buffer, &size,
                    TJSAMP_420, 90, TJFLAG_ACCURATEDCT) != 0) {
      return new std::string();
    }
    auto* out = new std::string(reinterpret_cast<const char*>(buffer), size);
    tjFree(buffer);
    tjDestroy(handle);
    return out;
  }();
  return *jpeg;
}

void BM_DecodeJpeg1600x900(benchmark::State& state) {
  const std::string& jpeg = CameraJpeg();
  if (jpeg.empty()) return state.SkipWithError("JPEG encoding failed");
  for (auto _ : state) {
    absl::StatusOr<Image> image = DecodeImage(jpeg);
    if (!image.ok()) return state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(image->pixels.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(jpeg.size()));
}
BENCHMARK(BM_DecodeJpeg1600x900)->Unit(benchmark::kMillisecond);

void BM_ResizeBicubic1600x900To224(benchmark::State& state) {
  const Image image = CameraLikeImage();
  absl::StatusOr<ImageResizer> resizer =
      ImageResizer::Create(kWidth, kHeight, 224, 224, ResampleFilter::kBicubic);
  if (!resizer.ok()) return state.SkipWithError("resizer");
  for (auto _ : state) {
    absl::StatusOr<Image> out = resizer->Resize(image);
    benchmark::DoNotOptimize(out->pixels.data());
  }
}
BENCHMARK(BM_ResizeBicubic1600x900To224)->Unit(benchmark::kMillisecond);

void BM_ResizerCreate1600x900To224(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<ImageResizer> resizer =
        ImageResizer::Create(kWidth, kHeight, 224, 224, ResampleFilter::kBicubic);
    benchmark::DoNotOptimize(resizer.ok());
  }
}
BENCHMARK(BM_ResizerCreate1600x900To224)->Unit(benchmark::kMicrosecond);

// The whole per-camera path: decode + content hash + resize + rescale/normalize to [3, 224, 224].
void BM_ProcessJpeg1600x900To224(benchmark::State& state) {
  const std::string& jpeg = CameraJpeg();
  absl::StatusOr<ImageProcessor> processor = ImageProcessor::Create({});
  if (jpeg.empty() || !processor.ok()) return state.SkipWithError("setup failed");
  for (auto _ : state) {
    absl::StatusOr<ProcessedImage> processed = processor->Process(jpeg);
    if (!processed.ok()) return state.SkipWithError("process failed");
    benchmark::DoNotOptimize(processed->pixel_values.data());
  }
}
BENCHMARK(BM_ProcessJpeg1600x900To224)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace drivelm::engine

BENCHMARK_MAIN();
