#include "engine/vision/golden_test_util.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace drivelm::engine::testing {
namespace {

uint64_t SplitMix64(uint64_t seed, uint64_t index) {
  uint64_t z = seed + index * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string TestDataPath(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string root =
      srcdir != nullptr
          ? absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "drivelm_serve", "/")
          : std::string();
  return absl::StrCat(root, "engine/vision/testdata/", relative);
}

absl::StatusOr<std::string> ReadTestData(const std::string& relative) {
  const std::string path = TestDataPath(relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<nlohmann::json> LoadGoldenIndex() {
  absl::StatusOr<std::string> text = ReadTestData("index.json");
  if (!text.ok()) return text.status();
  nlohmann::json index = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) return absl::DataLossError("testdata/index.json is not valid JSON");
  return index;
}

Image SyntheticImage(const std::string& kind, int64_t width, int64_t height, uint64_t seed) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(image.num_values()));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t flat = (y * width + x) * 3 + c;
        const uint64_t z = SplitMix64(seed, static_cast<uint64_t>(flat));
        int64_t value;
        if (kind == "noise") {
          value = static_cast<int64_t>(z >> 56);
        } else {
          const int64_t base =
              ((x * (97 + 31 * c)) / width + (y * (151 - 29 * c)) / height + 40 * c) & 255;
          value = std::clamp<int64_t>(base + static_cast<int64_t>(z >> 59) - 16, 0, 255);
        }
        image.pixels[static_cast<size_t>(flat)] = static_cast<uint8_t>(value);
      }
    }
  }
  return image;
}

Image ImageFromBytes(int64_t width, int64_t height, const std::string& bytes) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.assign(bytes.begin(), bytes.end());
  return image;
}

std::vector<float> FloatsFromBytes(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

std::string PixelDiff::ToString() const {
  return absl::StrFormat("%d values: %.6f%% equal, %.6f%% within 1, max |diff| %d", count,
                         100.0 * equal_share(), 100.0 * within_one_share(), max_abs_diff);
}

PixelDiff ComparePixels(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected) {
  PixelDiff diff;
  diff.count = static_cast<int64_t>(std::min(actual.size(), expected.size()));
  for (int64_t i = 0; i < diff.count; ++i) {
    const int d = std::abs(static_cast<int>(actual[i]) - static_cast<int>(expected[i]));
    diff.equal += d == 0;
    diff.within_one += d <= 1;
    diff.max_abs_diff = std::max(diff.max_abs_diff, d);
  }
  return diff;
}

}  // namespace drivelm::engine::testing
