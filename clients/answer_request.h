// BuildAnswerRequest: a ClientScene (camera image files or bytes, questions) plus sampling and
// limits, as the drivelm.v1 AnswerRequest that drivelm_client, drivelm_eval and loadgen send.
#ifndef DRIVELM_CLIENTS_ANSWER_REQUEST_H_
#define DRIVELM_CLIENTS_ANSWER_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/client_context.h"
#include "clients/client_scene.h"
#include "proto/drivelm/v1/drivelm.pb.h"

namespace drivelm::clients {

// What a request asks beyond the scene. Absent fields stay absent in the request, so the server
// applies the model profile's defaults.
struct RequestOptions {
  std::string request_id;
  std::optional<bool> greedy;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int32_t> top_k;
  std::optional<uint64_t> seed;
  std::optional<int32_t> max_new_tokens;
  int32_t priority = 0;
};

// The header a load balancer routes on so that a scene's requests land on the replica that has
// its images cached (deploy/envoy/envoy.yaml hashes it).
inline constexpr char kSceneIdMetadataKey[] = "x-drivelm-scene-id";

// Adds routing metadata for `request` to `context` (its scene id, when set).
void AddRoutingMetadata(const drivelm::v1::AnswerRequest& request, grpc::ClientContext* context);

// One camera's encoded image, already in memory.
struct EncodedImage {
  std::string camera;  // e.g. "CAM_FRONT"
  std::string data;    // JPEG or PNG bytes
};

// "CAM_FRONT" -> v1::CAM_FRONT; InvalidArgument listing the six names otherwise.
absl::StatusOr<drivelm::v1::Camera> CameraFromName(const std::string& name);

// "perception" -> STAGE_PERCEPTION, ...; "" or an unknown name -> STAGE_UNSPECIFIED.
drivelm::v1::Stage StageFromName(const std::string& name);

// Reads the scene's image files. NotFound naming the file and camera when one cannot be read.
absl::StatusOr<std::vector<EncodedImage>> ReadSceneImages(const ClientScene& scene);

// The request for `scene` with `images` (the scene's own image paths are not read).
// InvalidArgument for an unknown camera name.
absl::StatusOr<drivelm::v1::AnswerRequest> BuildAnswerRequest(
    const ClientScene& scene, const std::vector<EncodedImage>& images,
    const RequestOptions& options);

// ReadSceneImages + BuildAnswerRequest.
absl::StatusOr<drivelm::v1::AnswerRequest> BuildAnswerRequest(const ClientScene& scene,
                                                              const RequestOptions& options);

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_ANSWER_REQUEST_H_
