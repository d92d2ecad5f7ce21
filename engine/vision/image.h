// Image: a decoded picture as 8-bit interleaved RGB, the one pixel format that the image pipeline
// passes between decode, resize and normalize (PIL's mode "RGB", which is what Hugging Face's
// processors see after convert_rgb).
#ifndef DRIVELM_ENGINE_VISION_IMAGE_H_
#define DRIVELM_ENGINE_VISION_IMAGE_H_

#include <cstdint>
#include <vector>

namespace drivelm::engine {

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3] row-major, R G B per pixel

  static constexpr int kChannels = 3;

  int64_t num_values() const { return width * height * kChannels; }
  // Whether the pixel buffer matches the dimensions (and both are positive).
  bool valid() const {
    return width > 0 && height > 0 && static_cast<int64_t>(pixels.size()) == num_values();
  }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * kChannels; }
  uint8_t* row(int64_t y) { return pixels.data() + y * width * kChannels; }
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_VISION_IMAGE_H_
