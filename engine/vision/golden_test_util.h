// Test helpers for the image goldens in testdata/ (written by
// tools/reference/image/make_image_goldens.py): file access through Bazel runfiles, the
// index.json, the synthetic images that the script and the tests both generate, and a pixel
// comparison that reports how close two buffers are rather than only whether they are equal.
#ifndef DRIVELM_ENGINE_VISION_GOLDEN_TEST_UTIL_H_
#define DRIVELM_ENGINE_VISION_GOLDEN_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/vision/image.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine::testing {

// Path of `relative` under engine/vision/testdata/ in the test's runfiles.
std::string TestDataPath(const std::string& relative);
absl::StatusOr<std::string> ReadTestData(const std::string& relative);
absl::StatusOr<nlohmann::json> LoadGoldenIndex();

// Same as make_image_goldens.py's synthetic_image: kind "noise" or "scene".
Image SyntheticImage(const std::string& kind, int64_t width, int64_t height, uint64_t seed);

// Raw RGB bytes as an Image of the given size (no validation beyond the byte count).
Image ImageFromBytes(int64_t width, int64_t height, const std::string& bytes);

// Raw little-endian float32 values.
std::vector<float> FloatsFromBytes(const std::string& bytes);

struct PixelDiff {
  int64_t count = 0;        // values compared
  int64_t equal = 0;        // values exactly equal
  int64_t within_one = 0;   // values differing by at most 1
  int max_abs_diff = 0;
  double equal_share() const { return count ? static_cast<double>(equal) / count : 0.0; }
  double within_one_share() const { return count ? static_cast<double>(within_one) / count : 0.0; }
  std::string ToString() const;
};
PixelDiff ComparePixels(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected);

}  // namespace drivelm::engine::testing

#endif  // DRIVELM_ENGINE_VISION_GOLDEN_TEST_UTIL_H_
