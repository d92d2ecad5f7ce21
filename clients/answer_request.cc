#include "clients/answer_request.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace drivelm::clients {

void AddRoutingMetadata(const drivelm::v1::AnswerRequest& request, grpc::ClientContext* context) {
  if (!request.scene().id().empty()) context->AddMetadata(kSceneIdMetadataKey, request.scene().id());
}
namespace v1 = drivelm::v1;

absl::StatusOr<v1::Camera> CameraFromName(const std::string& name) {
  v1::Camera camera = v1::CAMERA_UNSPECIFIED;
  if (!v1::Camera_Parse(name, &camera) || camera == v1::CAMERA_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown camera '", name,
        "' (expected CAM_FRONT, CAM_FRONT_LEFT, CAM_FRONT_RIGHT, CAM_BACK, CAM_BACK_LEFT, "
        "CAM_BACK_RIGHT)"));
  }
  return camera;
}

v1::Stage StageFromName(const std::string& name) {
  if (name == "perception") return v1::STAGE_PERCEPTION;
  if (name == "prediction") return v1::STAGE_PREDICTION;
  if (name == "planning") return v1::STAGE_PLANNING;
  if (name == "behavior") return v1::STAGE_BEHAVIOR;
  return v1::STAGE_UNSPECIFIED;
}

absl::StatusOr<std::vector<EncodedImage>> ReadSceneImages(const ClientScene& scene) {
  std::vector<EncodedImage> images;
  images.reserve(scene.images.size());
  for (const ClientImage& image : scene.images) {
    std::ifstream in(image.path, std::ios::binary);
    std::ostringstream bytes;
    if (in) bytes << in.rdbuf();
    if (!in || in.bad()) {
      return absl::NotFoundError(
          absl::StrCat("cannot read image ", image.path, " (", image.camera, ")"));
    }
    images.push_back({image.camera, bytes.str()});
  }
  return images;
}

absl::StatusOr<v1::AnswerRequest> BuildAnswerRequest(const ClientScene& scene,
                                                     const std::vector<EncodedImage>& images,
                                                     const RequestOptions& options) {
  v1::AnswerRequest request;
  request.set_request_id(options.request_id);
  request.mutable_scene()->set_id(scene.scene_id);
  for (const EncodedImage& image : images) {
    absl::StatusOr<v1::Camera> camera = CameraFromName(image.camera);
    if (!camera.ok()) return camera.status();
    v1::CameraImage* out = request.mutable_scene()->add_images();
    out->set_camera(*camera);
    out->set_data(image.data);
  }
  for (const ClientQuestion& q : scene.questions) {
    v1::Question* out = request.add_questions();
    out->set_id(q.id);
    out->set_text(q.text);
    out->set_stage(StageFromName(q.stage));
    for (const std::string& parent : q.depends_on) out->add_depends_on(parent);
  }
  for (const std::string& stop : scene.stop) request.add_stop(stop);
  v1::SamplingParams* sampling = request.mutable_sampling();
  if (options.greedy) sampling->set_greedy(*options.greedy);
  if (options.temperature) sampling->set_temperature(*options.temperature);
  if (options.top_p) sampling->set_top_p(*options.top_p);
  if (options.top_k) sampling->set_top_k(*options.top_k);
  if (options.seed) sampling->set_seed(*options.seed);
  if (options.max_new_tokens) request.set_max_new_tokens(*options.max_new_tokens);
  request.set_priority(options.priority);
  return request;
}

absl::StatusOr<v1::AnswerRequest> BuildAnswerRequest(const ClientScene& scene,
                                                     const RequestOptions& options) {
  absl::StatusOr<std::vector<EncodedImage>> images = ReadSceneImages(scene);
  if (!images.ok()) return images.status();
  return BuildAnswerRequest(scene, *images, options);
}

}  // namespace drivelm::clients
