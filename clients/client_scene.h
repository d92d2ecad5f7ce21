// ClientScene: what drivelm_client sends, before it becomes an AnswerRequest: camera image files
// and questions. It comes either from the command line (TakeSceneFlags) or from a DriveLM JSON
// file (LoadDriveLmFrame). No gRPC or proto types here, so both are tested without a server.
#ifndef DRIVELM_CLIENTS_CLIENT_SCENE_H_
#define DRIVELM_CLIENTS_CLIENT_SCENE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace drivelm::clients {

struct ClientImage {
  std::string camera;  // e.g. "CAM_FRONT"
  std::string path;    // encoded JPEG/PNG file
};

struct ClientQuestion {
  std::string id;
  std::string text;
  std::string stage;                    // "", "perception", "prediction", "planning", "behavior"
  std::vector<std::string> depends_on;  // ids of earlier questions
  // From a DriveLM file only: the reference answer ("A"; train and evaluation layouts) and the
  // evaluation tags ("tag": 0 accuracy, 1 judge, 2 language, 3 match). The test layout has
  // neither.
  bool has_answer = false;
  std::string answer;
  std::vector<int> tags;
};

struct ClientScene {
  std::string scene_id;
  std::vector<ClientImage> images;
  std::vector<ClientQuestion> questions;
  std::vector<std::string> stop;  // extra stop strings (--stop, repeatable)
};

// DriveLM's stages in the order the challenge numbers questions.
const std::vector<std::string>& DriveLmStages();

// Takes the scene flags out of argv, in order, leaving the rest for absl::ParseCommandLine
// (absl's flags keep only the last occurrence of a repeated flag). Each flag is written
// `--flag VALUE` or `--flag=VALUE`; everything after a bare `--` is left alone.
//   --image CAMERA=PATH   a camera image (repeat per camera; commas separate several)
//   --question TEXT       the next question; its id is q0, q1, ... in order
//   --depends_on IDS      for the preceding --question: comma-separated ids (q0) or indexes (0)
//                         of earlier questions whose question and answer become its context
//   --stage STAGE         for the preceding --question: perception, prediction, planning,
//                         behavior
//   --stop TEXT           an extra stop string (repeatable)
// InvalidArgument naming the flag for malformed values, --depends_on/--stage without a
// preceding --question, or a reference to a question that is not earlier.
absl::StatusOr<ClientScene> TakeSceneFlags(int* argc, char** argv);

// The questions of one DriveLM key frame (DESIGN §6 layout: {scene_token: {"key_frames":
// {frame_token: {"QA": {stage: [{"Q": ...}, ...]}, "image_paths": {CAMERA: path}}}}}), in the
// challenge's order (perception, prediction, planning, behavior), with the challenge's ids
// scene_token + "_" + frame_token + "_" + i. Image paths are relative to `images_root` (absolute
// ones are kept). Questions are independent (no depends_on), as the challenge evaluates them.
absl::StatusOr<ClientScene> ParseDriveLmFrame(std::string_view json_text, std::string_view source,
                                              const std::string& frame_token,
                                              const std::string& images_root);
absl::StatusOr<ClientScene> LoadDriveLmFrame(const std::string& json_path,
                                             const std::string& frame_token,
                                             const std::string& images_root);

// Every key frame of a DriveLM file, in file order (scenes, then their key frames), each as
// ParseDriveLmFrame makes it. Any malformed frame is an error naming it; a file without key
// frames is an error too.
absl::StatusOr<std::vector<ClientScene>> ParseDriveLmFile(std::string_view json_text,
                                                          std::string_view source,
                                                          const std::string& images_root);
absl::StatusOr<std::vector<ClientScene>> LoadDriveLmFile(const std::string& json_path,
                                                         const std::string& images_root);

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_CLIENT_SCENE_H_
