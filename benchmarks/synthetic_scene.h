// SyntheticScene: a generated DriveLM-like request for load tests: six distinct camera images
// (JPEG, encoded in process with libturbojpeg) and K questions in DriveLM's wording with object
// references in camera pixels. The content is a pure function of (seed, index): request i of a
// run is the same across runs, and differs from request j (different pixels in every camera,
// different object coordinates in the questions), so a server's content-keyed caches (vision
// encodings, prompt prefixes) only hit where real traffic would — unless `repeat` asks for every
// request to carry scene 0's images and questions.
//
// Thread-safe: MakeSyntheticScene is a pure function (producer threads call it concurrently).
#ifndef DRIVELM_BENCHMARKS_SYNTHETIC_SCENE_H_
#define DRIVELM_BENCHMARKS_SYNTHETIC_SCENE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/answer_request.h"
#include "clients/client_scene.h"

namespace drivelm::benchmarks {

struct SyntheticSceneOptions {
  int width = 1600;  // nuScenes camera resolution
  int height = 900;
  int jpeg_quality = 90;
  int questions = 20;  // about what a DriveLM key frame has
  uint64_t seed = 0;
  bool repeat = false;  // every scene is scene 0
};

struct SyntheticScene {
  clients::ClientScene scene;  // scene_id and questions (ids q0, q1, ...; no image paths)
  std::vector<clients::EncodedImage> images;  // the six cameras
};

// "1600x900" -> {1600, 900}; InvalidArgument unless both are in 16..8192.
absl::StatusOr<std::pair<int, int>> ParseImageSize(const std::string& text);

// Scene number `index`. InvalidArgument for a size or quality out of range or questions < 1;
// Internal if JPEG encoding fails.
absl::StatusOr<SyntheticScene> MakeSyntheticScene(const SyntheticSceneOptions& options,
                                                  uint64_t index);

}  // namespace drivelm::benchmarks

#endif  // DRIVELM_BENCHMARKS_SYNTHETIC_SCENE_H_
