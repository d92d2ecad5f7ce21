// drivelm_client: asks a drivelm_server about one six-camera scene and streams the answers.
//
//   drivelm_client [--server 127.0.0.1:50051]
//     --image CAM_FRONT=front.jpg ... (one per camera)
//     --question "What are the important objects in the current scene?"
//     --question "What should the ego vehicle do?" --depends_on q0 [--stage planning] ...
//
//   drivelm_client --drivelm test_eval.json --frame FRAME_TOKEN [--images_root DIR]
//
//   drivelm_client --health [--health_service drivelm.v1.DriveLM]
//   drivelm_client --model_info
//
// Questions get the ids q0, q1, ... in order; --depends_on (ids or indexes of earlier questions,
// comma-separated) and --stage apply to the --question just before them. With --drivelm the
// questions of one DriveLM key frame are sent in the challenge's order (perception, prediction,
// planning, behavior) with the challenge's ids (scene_token_frame_token_i); images come from
// its image_paths, relative to --images_root (default: the JSON file's directory).
//
// Output: answers in question order, each on lines prefixed with its question id ("[q0] Q: ..."
// then "[q0] A: ..."); the first unfinished question streams as it is generated, answers the
// server generates concurrently are held back until their turn. A summary per question (finish
// reason, tokens, times) goes to stderr. --json prints one JSON object per line instead: {"question_id", "delta"} per text
// piece, {"question_id", "done": {...}} per question, then {"status": {...}} for the call.
//
// Exit status: 0 all answered; 1 bad arguments or unreadable files; 2 the RPC failed (its status
// is printed); 3 the RPC succeeded but a question failed (see its done event). --health: 0 when
// SERVING, 2 otherwise.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/answer_request.h"
#include "clients/client_scene.h"
#include "clients/health_check.h"
#include "clients/status_names.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "drivelm_server address host:port");
ABSL_FLAG(std::string, drivelm, "", "DriveLM JSON file (test_eval.json layout)");
ABSL_FLAG(std::string, frame, "", "with --drivelm: the key frame token");
ABSL_FLAG(std::string, images_root, "",
          "with --drivelm: directory image_paths are relative to (default: the JSON's directory)");
ABSL_FLAG(std::string, scene_id, "", "Scene.id (default: scene_frame with --drivelm, else empty)");
ABSL_FLAG(std::string, request_id, "", "AnswerRequest.request_id (default: the server's)");
ABSL_FLAG(bool, json, false, "print one JSON object per event instead of text");
ABSL_FLAG(int64_t, deadline_ms, 0, "call deadline in milliseconds (0: none)");
ABSL_FLAG(int32_t, max_new_tokens, 0, "tokens per answer at most (0: the model's default)");
ABSL_FLAG(bool, greedy, false, "greedy decoding");
ABSL_FLAG(bool, sample, false, "sample with the model profile's temperature/top_p");
ABSL_FLAG(double, temperature, 0, "sampling temperature (> 0; 0: the profile's)");
ABSL_FLAG(double, top_p, 0, "nucleus sampling mass in (0, 1] (0: the profile's)");
ABSL_FLAG(int32_t, top_k, -1, "top-k sampling, 0 = off (-1: the profile's)");
ABSL_FLAG(int64_t, seed, -1, "sampling seed (-1: the profile's)");
ABSL_FLAG(int32_t, priority, 0, "scheduling priority (higher first)");
ABSL_FLAG(bool, health, false, "only check grpc.health.v1 health and print it");
ABSL_FLAG(std::string, health_service, "", "with --health: the service to ask about ('' = server)");
ABSL_FLAG(bool, model_info, false, "only print GetModelInfo as JSON");

namespace {

namespace v1 = drivelm::v1;
using drivelm::clients::ClientScene;
using drivelm::clients::FinishReasonName;
using drivelm::clients::GrpcCodeName;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitRpc = 2;
constexpr int kExitQuestionFailed = 3;

int Fail(const std::string& message) {
  std::fprintf(stderr, "drivelm_client: %s\n", message.c_str());
  return kExitUsage;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void SetDeadline(grpc::ClientContext* context) {
  const int64_t ms = absl::GetFlag(FLAGS_deadline_ms);
  if (ms > 0) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  }
}

// The scene from --drivelm or from the --image/--question flags.
absl::StatusOr<ClientScene> SceneFromFlags(ClientScene flags_scene) {
  const std::string drivelm = absl::GetFlag(FLAGS_drivelm);
  if (drivelm.empty()) {
    if (!absl::GetFlag(FLAGS_frame).empty() || !absl::GetFlag(FLAGS_images_root).empty()) {
      return absl::InvalidArgumentError("--frame and --images_root need --drivelm FILE");
    }
    if (flags_scene.images.empty()) {
      return absl::InvalidArgumentError("give --image CAMERA=PATH per camera (or --drivelm FILE)");
    }
    if (flags_scene.questions.empty()) {
      return absl::InvalidArgumentError("give at least one --question TEXT (or --drivelm FILE)");
    }
    flags_scene.scene_id = absl::GetFlag(FLAGS_scene_id);
    return flags_scene;
  }
  if (!flags_scene.images.empty() || !flags_scene.questions.empty()) {
    return absl::InvalidArgumentError(
        "--drivelm takes images and questions from the file; drop --image/--question");
  }
  const std::string frame = absl::GetFlag(FLAGS_frame);
  if (frame.empty()) return absl::InvalidArgumentError("--drivelm needs --frame FRAME_TOKEN");
  std::string root = absl::GetFlag(FLAGS_images_root);
  if (root.empty()) root = DirName(drivelm);
  absl::StatusOr<ClientScene> scene = drivelm::clients::LoadDriveLmFrame(drivelm, frame, root);
  if (!scene.ok()) return scene.status();
  scene->stop = flags_scene.stop;
  if (!absl::GetFlag(FLAGS_scene_id).empty()) scene->scene_id = absl::GetFlag(FLAGS_scene_id);
  return scene;
}

absl::StatusOr<v1::AnswerRequest> BuildRequest(const ClientScene& scene) {
  if (absl::GetFlag(FLAGS_greedy) && absl::GetFlag(FLAGS_sample)) {
    return absl::InvalidArgumentError("--greedy and --sample exclude each other");
  }
  drivelm::clients::RequestOptions options;
  options.request_id = absl::GetFlag(FLAGS_request_id);
  if (absl::GetFlag(FLAGS_greedy)) options.greedy = true;
  if (absl::GetFlag(FLAGS_sample)) options.greedy = false;
  if (absl::GetFlag(FLAGS_temperature) != 0) {
    options.temperature = absl::GetFlag(FLAGS_temperature);
  }
  if (absl::GetFlag(FLAGS_top_p) != 0) options.top_p = absl::GetFlag(FLAGS_top_p);
  if (absl::GetFlag(FLAGS_top_k) >= 0) options.top_k = absl::GetFlag(FLAGS_top_k);
  if (absl::GetFlag(FLAGS_seed) >= 0) {
    options.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  }
  if (absl::GetFlag(FLAGS_max_new_tokens) > 0) {
    options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  }
  options.priority = absl::GetFlag(FLAGS_priority);
  return drivelm::clients::BuildAnswerRequest(scene, options);
}

nlohmann::json DoneJson(const v1::QuestionDone& done) {
  const v1::Usage& u = done.usage();
  const v1::Timings& t = u.timings();
  return nlohmann::json{
      {"finish_reason", FinishReasonName(done.finish_reason())},
      {"status", {{"code", done.status().code()}, {"message", done.status().message()}}},
      {"usage",
       {{"prompt_tokens", u.prompt_tokens()},
        {"generated_tokens", u.generated_tokens()},
        {"timings_ms",
         {{"queue", t.queue_ms()},
          {"image_decode", t.image_decode_ms()},
          {"vision", t.vision_ms()},
          {"prefill", t.prefill_ms()},
          {"decode", t.decode_ms()},
          {"ttft", t.ttft_ms()}}},
        {"flops",
         {{"vision", u.flops().vision()},
          {"prefill", u.flops().prefill()},
          {"decode", u.flops().decode()}}}}}};
}

// Prints the events of one Answer stream as text, in question order: the first unfinished
// question streams live ("[id] Q: question", then "[id] A: " and its text as it arrives); the
// events of questions answered concurrently are held back and printed, then streamed, when their
// turn comes. A summary line per question goes to stderr when its answer is complete.
class TextPrinter {
 public:
  explicit TextPrinter(const ClientScene& scene) : scene_(scene) {
    for (const drivelm::clients::ClientQuestion& q : scene.questions) order_.push_back(q.id);
  }

  void Delta(const std::string& id, const std::string& text) {
    State& state = StateOf(id);
    if (Live(id)) {
      Print(text);
    } else {
      state.held += text;
    }
    Advance();
  }

  void Done(const std::string& id, const v1::QuestionDone& done) {
    State& state = StateOf(id);
    state.done = done;
    if (Live(id)) Finish(id);
    Advance();
  }

  // The stream ended: whatever is still held back (questions without a done event) is printed.
  void Flush() {
    if (states_.empty()) return;  // no event at all (e.g. the request was refused)
    Advance();
    for (; next_ < order_.size(); ++next_) {
      Begin(order_[next_]);
      std::printf("\n");
      std::fprintf(stderr, "[%s] no answer (the call ended first)\n", order_[next_].c_str());
    }
    std::fflush(stdout);
  }

 private:
  struct State {
    std::string held;  // text received while another question was being shown
    std::optional<v1::QuestionDone> done;
  };

  State& StateOf(const std::string& id) {
    if (std::find(order_.begin(), order_.end(), id) == order_.end()) order_.push_back(id);
    return states_[id];
  }

  bool Live(const std::string& id) const {
    return started_ && next_ < order_.size() && order_[next_] == id;
  }

  void Print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

  // Prints the question and the answer held so far.
  void Begin(const std::string& id) {
    for (const drivelm::clients::ClientQuestion& q : scene_.questions) {
      if (q.id == id) std::printf("[%s] Q: %s\n", id.c_str(), q.text.c_str());
    }
    std::printf("[%s] A: ", id.c_str());
    State& state = states_[id];
    Print(state.held);
    state.held.clear();
    started_ = true;
  }

  // Ends the live question's line and reports it; the next question becomes live.
  void Finish(const std::string& id) {
    std::printf("\n");
    std::fflush(stdout);
    const v1::QuestionDone& done = *states_[id].done;
    const v1::Usage& u = done.usage();
    const v1::Timings& t = u.timings();
    std::string line = absl::StrFormat(
        "[%s] %s, %d tokens (prompt %d) | ttft %.1f ms, queue %.1f, images %.1f, vision %.1f, "
        "prefill %.1f, decode %.1f ms | %.3g GFLOP",
        id, FinishReasonName(done.finish_reason()), u.generated_tokens(), u.prompt_tokens(),
        t.ttft_ms(), t.queue_ms(), t.image_decode_ms(), t.vision_ms(), t.prefill_ms(),
        t.decode_ms(), (u.flops().vision() + u.flops().prefill() + u.flops().decode()) / 1e9);
    if (done.status().code() != 0) {
      absl::StrAppend(&line, " | FAILED: ",
                      GrpcCodeName(done.status().code()), ": ",
                      done.status().message());
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    ++next_;
    started_ = false;
  }

  // Shows the next question in order if it is not shown yet, finishing every one already done.
  void Advance() {
    while (next_ < order_.size()) {
      const std::string id = order_[next_];
      if (!started_) Begin(id);
      if (!states_[id].done) return;
      Finish(id);
    }
  }

  const ClientScene& scene_;
  std::vector<std::string> order_;          // question ids in display order
  std::map<std::string, State> states_;
  size_t next_ = 0;                         // order_[next_] is (or is next to be) live
  bool started_ = false;                    // order_[next_]'s "Q:"/"A:" lines are printed
};

int RunAnswer(v1::DriveLM::Stub* stub, const ClientScene& scene) {
  absl::StatusOr<v1::AnswerRequest> request = BuildRequest(scene);
  if (!request.ok()) return Fail(std::string(request.status().message()));
  const bool json = absl::GetFlag(FLAGS_json);

  grpc::ClientContext context;
  SetDeadline(&context);
  drivelm::clients::AddRoutingMetadata(*request, &context);
  std::unique_ptr<grpc::ClientReader<v1::AnswerEvent>> reader = stub->Answer(&context, *request);
  TextPrinter printer(scene);
  v1::AnswerEvent event;
  bool failed_question = false;
  while (reader->Read(&event)) {
    if (json) {
      nlohmann::json line{{"question_id", event.question_id()}};
      if (event.has_delta()) {
        line["delta"] = event.delta().text();
      } else if (event.has_done()) {
        line["done"] = DoneJson(event.done());
      }
      std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      std::fflush(stdout);
    } else if (event.has_delta()) {
      printer.Delta(event.question_id(), event.delta().text());
    } else if (event.has_done()) {
      printer.Done(event.question_id(), event.done());
    }
    if (event.has_done() && event.done().status().code() != 0) failed_question = true;
  }
  const grpc::Status status = reader->Finish();
  if (!json) printer.Flush();
  std::string request_id;
  const auto& metadata = context.GetServerInitialMetadata();
  if (auto it = metadata.find("drivelm-request-id"); it != metadata.end()) {
    request_id.assign(it->second.data(), it->second.size());
  }
  if (json) {
    nlohmann::json line{{"status",
                         {{"code", GrpcCodeName(status.error_code())},
                          {"message", status.error_message()}}},
                        {"request_id", request_id}};
    std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  if (!status.ok()) {
    std::fprintf(stderr, "drivelm_client: Answer failed: %s: %s%s\n",
                 GrpcCodeName(status.error_code()).c_str(), status.error_message().c_str(),
                 request_id.empty() ? "" : absl::StrCat(" (request ", request_id, ")").c_str());
    return kExitRpc;
  }
  return failed_question ? kExitQuestionFailed : kExitOk;
}

int RunHealth(const std::shared_ptr<grpc::Channel>& channel) {
  const int64_t ms = absl::GetFlag(FLAGS_deadline_ms);
  const std::string service = absl::GetFlag(FLAGS_health_service);
  absl::StatusOr<drivelm::clients::ServingStatus> status = drivelm::clients::CheckHealth(
      channel, service, ms > 0 ? absl::Milliseconds(ms) : absl::Seconds(5));
  if (!status.ok()) {
    std::fprintf(stderr, "drivelm_client: health check failed: %s\n",
                 status.status().ToString().c_str());
    return kExitRpc;
  }
  std::printf("%s\n", drivelm::clients::ServingStatusName(*status));
  return *status == drivelm::clients::ServingStatus::kServing ? kExitOk : kExitRpc;
}

int RunModelInfo(v1::DriveLM::Stub* stub) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ModelInfo info;
  const grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) {
    std::fprintf(stderr, "drivelm_client: GetModelInfo failed: %s: %s\n",
                 GrpcCodeName(status.error_code()).c_str(), status.error_message().c_str());
    return kExitRpc;
  }
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(info, &text, options).ok()) {
    text = info.DebugString();
  }
  std::printf("%s", text.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Asks a drivelm_server about a scene: drivelm_client --image CAM_FRONT=a.jpg ... "
      "--question TEXT [--depends_on q0] ..., or --drivelm FILE --frame TOKEN");
  // Repeated and order-dependent flags first (absl keeps only a flag's last occurrence).
  absl::StatusOr<ClientScene> flags_scene = drivelm::clients::TakeSceneFlags(&argc, argv);
  if (!flags_scene.ok()) return Fail(std::string(flags_scene.status().message()));
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(absl::StrCat("unexpected argument '", rest[1], "'"));

  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  if (absl::GetFlag(FLAGS_health)) return RunHealth(channel);
  std::unique_ptr<v1::DriveLM::Stub> stub = v1::DriveLM::NewStub(channel);
  if (absl::GetFlag(FLAGS_model_info)) return RunModelInfo(stub.get());

  absl::StatusOr<ClientScene> scene = SceneFromFlags(*std::move(flags_scene));
  if (!scene.ok()) return Fail(std::string(scene.status().message()));
  return RunAnswer(stub.get(), *scene);
}
