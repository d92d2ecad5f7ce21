#include "benchmarks/synthetic_scene.h"

#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace drivelm::benchmarks {
namespace {

constexpr std::array<const char*, 6> kCameras = {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                                                 "CAM_BACK",  "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};

// splitmix64: decorrelates (seed, index, camera) into generator seeds.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Rgb {
  int r, g, b;
};

uint8_t Clamp8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

// A road scene in the camera's view: sky gradient, road with lane lines, a few boxes for
// vehicles and buildings, and mild sensor noise (so the JPEG size is realistic, not a flat
// image's).
std::vector<uint8_t> DrawCamera(int width, int height, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> px(static_cast<size_t>(width) * height * 3);
  const int horizon = height * (40 + static_cast<int>(rng() % 15)) / 100;
  const Rgb sky_top{60 + byte(rng) % 60, 100 + byte(rng) % 80, 160 + byte(rng) % 90};
  const Rgb sky_bottom{180 + byte(rng) % 60, 190 + byte(rng) % 60, 200 + byte(rng) % 55};
  const int road_gray = 70 + byte(rng) % 60;
  const Rgb ground{90 + byte(rng) % 50, 100 + byte(rng) % 60, 80 + byte(rng) % 40};
  const double vanish_x = width * (0.35 + 0.3 * (rng() % 1000) / 1000.0);
  for (int y = 0; y < height; ++y) {
    uint8_t* row = px.data() + static_cast<size_t>(y) * width * 3;
    if (y < horizon) {
      const double t = static_cast<double>(y) / std::max(horizon, 1);
      const Rgb c{static_cast<int>(sky_top.r + t * (sky_bottom.r - sky_top.r)),
                  static_cast<int>(sky_top.g + t * (sky_bottom.g - sky_top.g)),
                  static_cast<int>(sky_top.b + t * (sky_bottom.b - sky_top.b))};
      for (int x = 0; x < width; ++x) {
        row[3 * x] = Clamp8(c.r);
        row[3 * x + 1] = Clamp8(c.g);
        row[3 * x + 2] = Clamp8(c.b);
      }
      continue;
    }
    // Road: a trapezoid widening from the vanishing point; lane lines at fixed fractions.
    const double depth = static_cast<double>(y - horizon) / std::max(height - horizon, 1);
    const double half = 0.05 * width + depth * 0.9 * width;
    for (int x = 0; x < width; ++x) {
      const double u = (x - vanish_x) / half;  // -1..1 across the road
      Rgb c = ground;
      if (std::abs(u) <= 1) {
        c = {road_gray, road_gray, road_gray + 5};
        for (double lane : {-0.33, 0.33}) {
          if (std::abs(u - lane) < 0.015 && (y / 12) % 3 != 0) c = {235, 235, 225};
        }
      }
      row[3 * x] = Clamp8(c.r);
      row[3 * x + 1] = Clamp8(c.g);
      row[3 * x + 2] = Clamp8(c.b);
    }
  }
  // Boxes: buildings on the horizon, vehicles on the road (bigger when nearer).
  const int boxes = 4 + static_cast<int>(rng() % 6);
  for (int i = 0; i < boxes; ++i) {
    const bool building = i < 2;
    const int bh = building ? height / 4 + byte(rng) % (height / 6 + 1)
                            : height / 12 + byte(rng) % (height / 8 + 1);
    const int bw = building ? width / 8 + byte(rng) % (width / 8 + 1) : bh * 3 / 2;
    const int x0 = static_cast<int>(rng() % static_cast<uint64_t>(std::max(width - bw, 1)));
    const int y1 = building ? horizon
                            : horizon + bh / 2 +
                                  static_cast<int>(rng() % static_cast<uint64_t>(
                                                               std::max(height - horizon - bh, 1)));
    const int y0 = std::max(0, y1 - bh);
    const Rgb c{byte(rng), byte(rng), byte(rng)};
    for (int y = y0; y < std::min(y1, height); ++y) {
      uint8_t* row = px.data() + static_cast<size_t>(y) * width * 3;
      for (int x = x0; x < std::min(x0 + bw, width); ++x) {
        const int shade = (y - y0) * 40 / std::max(bh, 1);  // darker towards the bottom
        row[3 * x] = Clamp8(c.r - shade);
        row[3 * x + 1] = Clamp8(c.g - shade);
        row[3 * x + 2] = Clamp8(c.b - shade);
      }
    }
  }
  // Sensor noise, +-4 per channel, from a cheap xorshift.
  uint64_t s = seed | 1;
  for (uint8_t& v : px) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    v = Clamp8(static_cast<int>(v) + static_cast<int>(s % 9) - 4);
  }
  return px;
}

absl::StatusOr<std::string> EncodeJpeg(const std::vector<uint8_t>& rgb, int width, int height,
                                       int quality) {
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) return absl::InternalError("tjInitCompress failed");
  unsigned char* buffer = nullptr;
  unsigned long size = 0;  // NOLINT(runtime/int): turbojpeg's type
  const int rc = tjCompress2(handle, rgb.data(), width, 0, height, TJPF_RGB, &buffer, &size,
                             TJSAMP_420, quality, TJFLAG_FASTDCT);
  const std::string error = rc != 0 ? tjGetErrorStr2(handle) : "";
  std::string out;
  if (rc == 0) out.assign(reinterpret_cast<const char*>(buffer), size);
  tjFree(buffer);
  tjDestroy(handle);
  if (rc != 0) return absl::InternalError(absl::StrCat("tjCompress2: ", error));
  return out;
}

// An object reference as DriveLM writes it: <c1,CAM_BACK,1088.3,497.5>.
std::string ObjectRef(int n, std::mt19937_64& rng, int width, int height) {
  const double x = static_cast<double>(rng() % static_cast<uint64_t>(width * 10)) / 10.0;
  const double y = static_cast<double>(rng() % static_cast<uint64_t>(height * 10)) / 10.0;
  return absl::StrFormat("<c%d,%s,%.1f,%.1f>", n, kCameras[rng() % kCameras.size()], x, y);
}

std::vector<clients::ClientQuestion> MakeQuestions(int count, uint64_t seed, int width,
                                                   int height) {
  std::mt19937_64 rng(seed);
  std::vector<clients::ClientQuestion> out;
  for (int i = 0; i < count; ++i) {
    const std::string obj = ObjectRef(1 + i % 5, rng, width, height);
    clients::ClientQuestion q;
    q.id = absl::StrCat("q", i);
    // DriveLM's question kinds, cycled: perception, prediction, planning, behavior.
    switch (i % 8) {
      case 0:
        q.stage = "perception";
        q.text =
            "What are the important objects in the current scene? Those objects will be "
            "considered for the future reasoning and driving decision.";
        break;
      case 1:
        q.stage = "perception";
        q.text = absl::StrCat("What is the moving status of object ", obj,
                              "? Please select the correct answer from the following options: "
                              "A. Going ahead. B. Stopped. C. Back up. D. Turn left.");
        break;
      case 2:
        q.stage = "perception";
        q.text = absl::StrCat("What is the visual description of ", obj, "?");
        break;
      case 3:
        q.stage = "prediction";
        q.text = absl::StrCat("Is ", obj, " a traffic sign or a road barrier?");
        break;
      case 4:
        q.stage = "prediction";
        q.text = absl::StrCat("Would ", obj, " be in the moving direction of the ego vehicle?");
        break;
      case 5:
        q.stage = "planning";
        q.text = absl::StrCat("What actions could the ego vehicle take based on ", obj,
                              "? Why take this action and what's the probability?");
        break;
      case 6:
        q.stage = "planning";
        q.text = absl::StrCat(
            "What actions taken by the ego vehicle can lead to a collision "
            "with ",
            obj, "?");
        break;
      case 7:
        q.stage = "behavior";
        q.text =
            "Predict the behavior of the ego vehicle. Please select the correct answer from the "
            "following options: A. The ego vehicle is slightly steering to the left. The ego "
            "vehicle is driving with normal speed. B. The ego vehicle is going straight. The "
            "ego vehicle is driving slowly. C. The ego vehicle is steering to the right. The ego "
            "vehicle is driving fast. D. The ego vehicle is going straight. The ego vehicle is "
            "not moving.";
        break;
    }
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::pair<int, int>> ParseImageSize(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, 'x');
  int w = 0, h = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &w) || !absl::SimpleAtoi(parts[1], &h) ||
      w < 16 || h < 16 || w > 8192 || h > 8192) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image size '", text, "' is not WIDTHxHEIGHT with both in 16..8192 (e.g. 1600x900)"));
  }
  return std::make_pair(w, h);
}

absl::StatusOr<SyntheticScene> MakeSyntheticScene(const SyntheticSceneOptions& options,
                                                  uint64_t index) {
  if (options.width < 16 || options.height < 16 || options.width > 8192 || options.height > 8192) {
    return absl::InvalidArgumentError(absl::StrCat("synthetic image size ", options.width, "x",
                                                   options.height, " is outside 16..8192"));
  }
  if (options.jpeg_quality < 1 || options.jpeg_quality > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG quality ", options.jpeg_quality, " is outside 1..100"));
  }
  if (options.questions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("questions per scene must be >= 1, not ", options.questions));
  }
  const uint64_t content = options.repeat ? 0 : index;
  const uint64_t base = Mix(Mix(options.seed) ^ Mix(content + 0x51ed270b27d6a3c5ULL));
  SyntheticScene out;
  out.scene.scene_id = absl::StrCat("synthetic_", options.seed, "_", content);
  out.scene.questions =
      MakeQuestions(options.questions, Mix(base ^ 0xa5a5), options.width, options.height);
  for (size_t c = 0; c < kCameras.size(); ++c) {
    const std::vector<uint8_t> rgb = DrawCamera(options.width, options.height, Mix(base + c));
    absl::StatusOr<std::string> jpeg =
        EncodeJpeg(rgb, options.width, options.height, options.jpeg_quality);
    if (!jpeg.ok()) return jpeg.status();
    out.images.push_back({kCameras[c], *std::move(jpeg)});
  }
  return out;
}

}  // namespace drivelm::benchmarks
