// End-to-end tests of the DriveLM service: an in-process gRPC server on 127.0.0.1 (ephemeral
// port) over the committed tiny Gemma-2 PaliGemma (tests/golden/models/gemma2_h96: 56 px images,
// the six nuScenes cameras) and the sample images of tests/golden/images. Expected answers come
// from a second Generator (own backend) called directly: the service must stream exactly what
// the engine's Generator produces, greedy, for every question of every stream.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "engine/generator.h"
#include "gmock/gmock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"
#include "server/drivelm_service.h"
#include "server/metrics.h"

namespace drivelm::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kModelDir[] = "tests/golden/models/gemma2_h96";
constexpr char kImageDir[] = "tests/golden/images";
constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr int kLongTokens = 4096;

// tests/golden/images, one per camera in DriveLM's order.
const std::vector<std::pair<v1::Camera, std::string>>& Images() {
  static const auto* images = [] {
    auto* out = new std::vector<std::pair<v1::Camera, std::string>>;
    const std::pair<v1::Camera, const char*> files[] = {
        {v1::CAM_FRONT, "cam0.jpg"},     {v1::CAM_FRONT_LEFT, "cam1.jpg"},
        {v1::CAM_FRONT_RIGHT, "cam2.jpg"}, {v1::CAM_BACK, "cam3.jpg"},
        {v1::CAM_BACK_LEFT, "cam4.jpg"}, {v1::CAM_BACK_RIGHT, "cam5.png"}};
    for (const auto& [camera, name] : files) {
      std::ifstream in(absl::StrCat(kImageDir, "/", name), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      out->emplace_back(camera, bytes.str());
    }
    return out;
  }();
  return *images;
}

const char* const kQuestions[] = {
    "What are the important objects in the current scene?",
    "What is the moving status of object <c1,CAM_FRONT,800.0,450.0>?",
    "What actions could the ego vehicle take?",
    "Is there a traffic light ahead?",
};

struct QuestionArg {
  std::string id;
  std::string text;
  std::vector<std::string> depends_on;
  v1::Stage stage = v1::STAGE_UNSPECIFIED;
};

v1::AnswerRequest SceneRequest(const std::vector<QuestionArg>& questions) {
  v1::AnswerRequest request;
  request.mutable_scene()->set_id("scene-golden");
  for (const auto& [camera, data] : Images()) {
    v1::CameraImage* image = request.mutable_scene()->add_images();
    image->set_camera(camera);
    image->set_data(data);
  }
  for (const QuestionArg& arg : questions) {
    v1::Question* q = request.add_questions();
    q->set_id(arg.id);
    q->set_text(arg.text);
    q->set_stage(arg.stage);
    for (const std::string& parent : arg.depends_on) q->add_depends_on(parent);
  }
  return request;
}

// A request that runs for seconds unless stopped: 64 questions of up to kLongTokens tokens.
v1::AnswerRequest LongRequest() {
  std::vector<QuestionArg> questions;
  for (int i = 0; i < 64; ++i) {
    questions.push_back({absl::StrCat("long", i), absl::StrCat("Describe object ", i, ".")});
  }
  v1::AnswerRequest request = SceneRequest(questions);
  request.set_max_new_tokens(kLongTokens);
  return request;
}

// Everything one Answer call delivered; the stream contract is checked while reading.
struct CallResult {
  grpc::Status status;
  std::map<std::string, std::string> text;      // question id -> concatenated deltas
  std::map<std::string, v1::QuestionDone> done;  // question id -> its done event
  std::vector<std::string> done_order;
  // Index (in the whole stream) of each question's first event.
  std::map<std::string, int> first_event;
  int events = 0;
  std::string request_id;  // from the initial metadata
};

// Reads the whole stream of `reader`, failing the test on a delta after its question's done
// event, a second done event, an empty delta, or an unknown question id.
void ReadAll(grpc::ClientReader<v1::AnswerEvent>* reader, const std::set<std::string>& ids,
             CallResult* r) {
  v1::AnswerEvent event;
  while (reader->Read(&event)) {
    const std::string& id = event.question_id();
    EXPECT_EQ(ids.count(id), 1u) << "event for unknown question " << id;
    r->first_event.emplace(id, r->events);
    ++r->events;
    switch (event.event_case()) {
      case v1::AnswerEvent::kDelta:
        EXPECT_EQ(r->done.count(id), 0u) << "delta after done for " << id;
        EXPECT_FALSE(event.delta().text().empty()) << id;
        r->text[id] += event.delta().text();
        break;
      case v1::AnswerEvent::kDone:
        EXPECT_EQ(r->done.count(id), 0u) << "second done for " << id;
        r->done[id] = event.done();
        r->done_order.push_back(id);
        break;
      case v1::AnswerEvent::EVENT_NOT_SET:
        ADD_FAILURE() << "event without a payload for " << id;
        break;
    }
  }
  r->status = reader->Finish();
}

std::set<std::string> IdsOf(const v1::AnswerRequest& request) {
  std::set<std::string> ids;
  for (const v1::Question& q : request.questions()) ids.insert(q.id());
  return ids;
}

template <typename F>
bool WaitFor(F condition, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// The value of the series line starting with `series` in a text scrape; -1 when absent.
double MetricValue(const std::string& scrape, const std::string& series) {
  std::istringstream lines(scrape);
  std::string line;
  while (std::getline(lines, line)) {
    if (absl::StartsWith(line, series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// CRC-32 (PNG's, ISO 3309), bitwise.
uint32_t Crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A length-delimited proto field (wire type 2) with a one-byte length.
std::string StringField(int field, const std::string& value) {
  std::string out;
  out.push_back(static_cast<char>(field << 3 | 2));
  out.push_back(static_cast<char>(value.size()));
  return out + value;
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    reference_backend_ = new engine::CpuBackend(1);
    auto generator = engine::Generator::Load(kModelDir, reference_backend_);
    ASSERT_TRUE(generator.ok()) << generator.status();
    reference_ = generator->release();
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete reference_backend_;
  }

  static engine::EngineOptions TestEngineOptions() {
    engine::EngineOptions options;
    options.max_new_tokens_limit = kLongTokens;
    return options;
  }

  void StartServer(engine::EngineOptions options = TestEngineOptions()) {
    backend_ = std::make_unique<engine::CpuBackend>(1);
    auto generator = engine::Generator::Load(kModelDir, backend_.get(), options.generator);
    ASSERT_TRUE(generator.ok()) << generator.status();
    auto engine = engine::Engine::Create(std::move(*generator), options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<ServerMetrics>(registry_);
    ServiceOptions service_options;
    service_options.poll_interval = absl::Milliseconds(20);
    service_options.stats_interval = absl::Milliseconds(10);
    service_options.model_info.model_name = "gemma2_h96";
    service_options.model_info.engine = options;
    service_options.model_info.max_message_bytes = 16 << 20;
    service_ = std::make_unique<DriveLmServiceImpl>(engine_.get(), metrics_.get(),
                                                    service_options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(16 << 20);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::DriveLM::NewStub(channel_);
  }

  void TearDown() override {
    // Calls still open past the deadline are cancelled; handlers then cancel their engine
    // streams and return.
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    server_.reset();
    service_.reset();  // its gauge sampler reads the engine
    engine_.reset();   // before the backend it uses
    backend_.reset();
  }

  CallResult Call(const v1::AnswerRequest& request, absl::Duration timeout = kCallTimeout) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    CallResult r;
    std::unique_ptr<grpc::ClientReader<v1::AnswerEvent>> reader = stub_->Answer(&context, request);
    ReadAll(reader.get(), IdsOf(request), &r);
    const auto& metadata = context.GetServerInitialMetadata();
    auto it = metadata.find(kRequestIdMetadataKey);
    if (it != metadata.end()) r.request_id = std::string(it->second.data(), it->second.size());
    return r;
  }

  // The reference answer to `question` (with `context`) about the golden images.
  static std::string Expected(const std::string& question,
                              std::vector<engine::QaPair> context = {}) {
    engine::GenerateRequest request;
    for (const auto& [camera, data] : Images()) {
      request.images.push_back({CameraName(camera), data});
    }
    request.question = question;
    request.context = std::move(context);
    absl::StatusOr<engine::GenerateResult> result = reference_->Generate(request);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->text : "";
  }

  std::string Scrape() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  }

  bool EngineIdle() {
    return WaitFor([&] {
      engine::EngineStats s = engine_->stats();
      return s.running == 0 && s.waiting == 0;
    });
  }

  // grpc.health.v1.Health/Check through the generic stub (Debian's gRPC ships no health
  // stubs): HealthCheckRequest {string service = 1}, HealthCheckResponse {ServingStatus status
  // = 1}. Returns the status value, or -(gRPC code) when the call fails.
  int CheckHealth(const std::string& service) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::CompletionQueue cq;
    auto call = generic.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                         ToByteBuffer(StringField(1, service)), &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    if (!status.ok()) return -static_cast<int>(status.error_code());
    const std::string bytes = FromByteBuffer(response);
    if (bytes.empty()) return 0;  // proto3 default: UNKNOWN
    EXPECT_EQ(bytes.size(), 2u);
    EXPECT_EQ(bytes[0], 0x08);  // field 1, varint
    return bytes.size() == 2 ? bytes[1] : -1;
  }

  // One grpc.reflection.v1alpha request (the encoded ServerReflectionRequest); the raw response.
  std::string Reflect(const std::string& request_bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::CompletionQueue cq;
    void* tag = nullptr;
    bool ok = false;
    auto stream = generic.PrepareCall(
        &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    stream->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(cq.Next(&tag, &ok) && ok);
    stream->Write(ToByteBuffer(request_bytes), reinterpret_cast<void*>(2));
    EXPECT_TRUE(cq.Next(&tag, &ok) && ok);
    stream->WritesDone(reinterpret_cast<void*>(3));
    EXPECT_TRUE(cq.Next(&tag, &ok) && ok);
    std::string out;
    grpc::ByteBuffer response;
    while (true) {
      stream->Read(&response, reinterpret_cast<void*>(4));
      if (!cq.Next(&tag, &ok) || !ok) break;
      out += FromByteBuffer(response);
    }
    grpc::Status status;
    stream->Finish(&status, reinterpret_cast<void*>(5));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_TRUE(status.ok()) << status.error_message();
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return out;
  }

  static engine::CpuBackend* reference_backend_;
  static engine::Generator* reference_;
  std::unique_ptr<engine::CpuBackend> backend_;
  std::unique_ptr<engine::Engine> engine_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<DriveLmServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DriveLM::Stub> stub_;
};

engine::CpuBackend* ServiceTest::reference_backend_ = nullptr;
engine::Generator* ServiceTest::reference_ = nullptr;

TEST_F(ServiceTest, ModelInfoDescribesTheModelAndLimits) {
  StartServer();
  grpc::ClientContext context;
  v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.model_name(), "gemma2_h96");
  EXPECT_EQ(info.architecture(), "PaliGemmaForConditionalGeneration");
  EXPECT_EQ(info.decoder_type(), "gemma2");
  EXPECT_EQ(info.vision_image_size(), 56);
  EXPECT_EQ(info.tokens_per_image(), 16);
  EXPECT_EQ(info.vocab_size(), 2049);
  EXPECT_EQ(info.backend(), "cpu");
  EXPECT_EQ(info.prompt_template_name(), "tiny_drivelm");
  EXPECT_EQ(info.default_max_new_tokens(), 64);
  EXPECT_TRUE(info.default_sampling().greedy());
  ASSERT_EQ(info.camera_order_size(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(info.camera_order(i), Images()[i].first) << i;
  EXPECT_EQ(info.limits().max_new_tokens(), kLongTokens);
  EXPECT_EQ(info.limits().max_questions_per_request(), 64);
  EXPECT_EQ(info.limits().queue_capacity(), 64);
  EXPECT_EQ(info.limits().max_message_bytes(), 16 << 20);
  EXPECT_GT(info.limits().max_pixels_per_image(), 0);
}

TEST_F(ServiceTest, SixCamerasStreamedPerQuestionWithDependsOnContext) {
  StartServer();
  v1::AnswerRequest request = SceneRequest({
      {"q1", kQuestions[0], {}, v1::STAGE_PERCEPTION},
      {"q2", kQuestions[1], {"q1"}, v1::STAGE_PREDICTION},
      {"q3", kQuestions[2], {"q1", "q2"}, v1::STAGE_PLANNING},
  });
  request.set_request_id("client-req-1");
  const CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.request_id, "client-req-1");

  // Exactly one done per question; a child starts only after its parents are done.
  ASSERT_EQ(r.done.size(), 3u);
  EXPECT_THAT(r.done_order, ::testing::ElementsAre("q1", "q2", "q3"));
  auto done_index = [&](const std::string& id) {
    int index = 0;
    for (const std::string& d : r.done_order) {
      if (d == id) break;
      ++index;
    }
    return index;
  };
  EXPECT_LT(done_index("q1"), done_index("q2"));
  EXPECT_GT(r.first_event.at("q2"), r.first_event.at("q1"));

  // The answers are the engine's own, with depends_on pairs as context.
  const std::string a1 = Expected(kQuestions[0]);
  const std::string a2 = Expected(kQuestions[1], {{kQuestions[0], a1}});
  const std::string a3 = Expected(kQuestions[2], {{kQuestions[0], a1}, {kQuestions[1], a2}});
  EXPECT_EQ(r.text.count("q1") ? r.text.at("q1") : "", a1);
  EXPECT_EQ(r.text.count("q2") ? r.text.at("q2") : "", a2);
  EXPECT_EQ(r.text.count("q3") ? r.text.at("q3") : "", a3);

  // Usage: six images of 16 tokens in every prompt; the scene's work shared.
  const v1::QuestionDone& d1 = r.done.at("q1");
  for (const auto& [id, done] : r.done) {
    EXPECT_EQ(done.status().code(), 0) << id << ": " << done.status().message();
    EXPECT_TRUE(done.finish_reason() == v1::FINISH_REASON_STOP ||
                done.finish_reason() == v1::FINISH_REASON_LENGTH)
        << id;
    EXPECT_GT(done.usage().prompt_tokens(), 6 * 16) << id;
    EXPECT_GT(done.usage().generated_tokens(), 0) << id;
    EXPECT_LE(done.usage().generated_tokens(), 64) << id;
    const v1::Timings& t = done.usage().timings();
    EXPECT_GT(t.vision_ms(), 0) << id;
    EXPECT_GT(t.image_decode_ms(), 0) << id;
    EXPECT_GT(t.prefill_ms(), 0) << id;
    EXPECT_GE(t.decode_ms(), 0) << id;
    EXPECT_GE(t.queue_ms(), 0) << id;
    EXPECT_GT(t.ttft_ms(), t.queue_ms()) << id;
    EXPECT_DOUBLE_EQ(t.vision_ms(), d1.usage().timings().vision_ms()) << id;
    EXPECT_GT(done.usage().flops().vision(), 0) << id;
    EXPECT_DOUBLE_EQ(done.usage().flops().vision(), d1.usage().flops().vision()) << id;
    EXPECT_GT(done.usage().flops().prefill(), 0) << id;
  }
  // Context makes the later prompts longer.
  EXPECT_GT(r.done.at("q3").usage().prompt_tokens(), r.done.at("q1").usage().prompt_tokens());

  // Metrics: one OK request, three finished questions, vision FLOPs once.
  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("drivelm_requests_total{code=\"OK\"} 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_time_to_first_token_seconds_count 3"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_vision_time_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("drivelm_request_flops_count 1"));
  EXPECT_NEAR(MetricValue(text, "drivelm_flops_total{phase=\"vision\"}"),
              d1.usage().flops().vision(), 1e-6 * d1.usage().flops().vision());
}

TEST_F(ServiceTest, GeneratesARequestIdWhenNoneIsGiven) {
  StartServer();
  const CallResult a = Call(SceneRequest({{"q", kQuestions[3]}}));
  const CallResult b = Call(SceneRequest({{"q", kQuestions[3]}}));
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_THAT(a.request_id, MatchesRegex("[0-9a-f]{8}-[0-9]{6}"));
  EXPECT_NE(a.request_id, b.request_id);
  EXPECT_EQ(a.text, b.text);  // greedy: the same answer twice
}

TEST_F(ServiceTest, HistoryAndMetadataAreAcceptedAndIgnored) {
  StartServer();
  v1::AnswerRequest request = SceneRequest({{"q", kQuestions[2]}});
  // Earlier frames are reserved for fusion: not decoded, so even bytes that are no image pass.
  v1::Frame* frame = request.mutable_scene()->add_history();
  frame->set_timestamp_us(1533151603512404);
  v1::CameraImage* old = frame->add_images();
  old->set_camera(v1::CAM_FRONT);
  old->set_data("not decoded");
  v1::SceneMetadata* metadata = request.mutable_scene()->mutable_metadata();
  metadata->mutable_ego_pose()->add_translation(411.3);
  (*metadata->mutable_attributes())["location"] = "boston-seaport";
  const CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.text.count("q") ? r.text.at("q") : "", Expected(kQuestions[2]));
}

TEST_F(ServiceTest, SampledAnswersFollowTheSeed) {
  StartServer();
  auto answer = [&](std::optional<uint64_t> seed) {
    v1::AnswerRequest request = SceneRequest({{"q", kQuestions[0]}});
    if (seed.has_value()) {
      request.mutable_sampling()->set_temperature(1.5);  // greedy unset: sampling
      request.mutable_sampling()->set_seed(*seed);
    }
    request.set_max_new_tokens(24);
    const CallResult r = Call(request);
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return r.text.count("q") ? r.text.at("q") : "";
  };
  const std::string a = answer(11);
  EXPECT_EQ(answer(11), a);
  // Over a few seeds, sampling at temperature 1.5 must leave the greedy answer at least once.
  const std::string greedy = answer(std::nullopt);
  bool differs = false;
  for (uint64_t seed = 1; seed <= 4 && !differs; ++seed) differs = answer(seed) != greedy;
  EXPECT_TRUE(differs);
}

TEST_F(ServiceTest, EveryValidationErrorIsInvalidArgumentNamingTheField) {
  StartServer();
  struct Case {
    const char* name;
    v1::AnswerRequest request;
    const char* message;
  };
  std::vector<Case> cases;
  const v1::AnswerRequest valid = SceneRequest({{"q1", kQuestions[0]}, {"q2", kQuestions[1]}});
  {
    v1::AnswerRequest r = valid;
    r.mutable_scene()->mutable_images()->RemoveLast();
    cases.push_back({"missing camera", r, "camera CAM_BACK_RIGHT is missing"});
  }
  {
    v1::AnswerRequest r = valid;
    r.mutable_scene()->mutable_images(5)->set_camera(v1::CAM_FRONT);
    cases.push_back({"duplicate camera", r, "scene.images[5].camera: duplicate camera CAM_FRONT"});
  }
  {
    v1::AnswerRequest r = valid;
    r.mutable_scene()->mutable_images(0)->set_camera(v1::CAMERA_UNSPECIFIED);
    cases.push_back({"unspecified camera", r, "scene.images[0].camera: CAMERA_UNSPECIFIED"});
  }
  {
    v1::AnswerRequest r = valid;
    r.mutable_scene()->mutable_images(2)->set_camera(static_cast<v1::Camera>(12));
    cases.push_back({"unknown camera value", r, "scene.images[2].camera: unknown camera value 12"});
  }
  {
    v1::AnswerRequest r = valid;
    r.mutable_scene()->mutable_images(3)->set_data("this is not an image");
    cases.push_back({"not an image", r, "images[CAM_BACK]"});
  }
  {
    // A PNG header announcing 5000 x 5000 pixels (over the default bound of 4096 * 4096): refused
    // from the header, before anything is decoded.
    const std::string ihdr =
        "IHDR" + BigEndian32(5000) + BigEndian32(5000) + std::string("\x08\x02\0\0\0", 5);
    std::string png("\x89PNG\r\n\x1a\n", 8);
    png += BigEndian32(13) + ihdr + BigEndian32(Crc32(ihdr));
    // An empty IDAT ends the header; its pixels are never read: the header alone refuses it.
    png += BigEndian32(0) + "IDAT" + BigEndian32(Crc32("IDAT"));
    v1::AnswerRequest r = valid;
    r.mutable_scene()->mutable_images(1)->set_data(png);
    cases.push_back({"image over the pixel bound", r, "images[CAM_FRONT_LEFT]: PNG of 5000x5000"});
  }
  {
    v1::AnswerRequest r = valid;
    r.clear_questions();
    cases.push_back({"no questions", r, "questions: 0 given"});
  }
  {
    std::vector<QuestionArg> many;
    for (int i = 0; i < 65; ++i) many.push_back({absl::StrCat("q", i), kQuestions[0]});
    cases.push_back({"too many questions", SceneRequest(many), "questions: 65 given, at most 64"});
  }
  {
    v1::AnswerRequest r = SceneRequest({{"a", kQuestions[0], {"b"}}, {"b", kQuestions[1], {"a"}}});
    cases.push_back({"depends_on cycle", r, "depends_on: cycle"});
  }
  {
    v1::AnswerRequest r = SceneRequest({{"a", kQuestions[0], {"nope"}}});
    cases.push_back({"unknown depends_on id", r, "questions[a].depends_on: unknown question id"});
  }
  {
    v1::AnswerRequest r = valid;
    r.set_max_new_tokens(kLongTokens + 1);
    cases.push_back({"max_new_tokens over the limit", r, "max_new_tokens"});
  }
  {
    v1::AnswerRequest r = valid;
    r.set_max_new_tokens(0);
    cases.push_back({"max_new_tokens zero", r, "max_new_tokens"});
  }
  {
    v1::AnswerRequest r = SceneRequest({{"a", ""}});
    cases.push_back({"empty question", r, "questions[a].text"});
  }
  {
    v1::AnswerRequest r = SceneRequest({{"a", kQuestions[0]}, {"a", kQuestions[1]}});
    cases.push_back({"duplicate question id", r, "questions[1].id"});
  }
  {
    v1::AnswerRequest r = valid;
    r.mutable_sampling()->set_temperature(-1);
    cases.push_back({"bad sampling", r, "temperature"});
  }
  {
    v1::AnswerRequest r = valid;
    r.mutable_questions(0)->set_stage(static_cast<v1::Stage>(7));
    cases.push_back({"unknown stage", r, "questions[0].stage"});
  }
  for (Case& c : cases) {
    c.request.set_request_id(absl::StrCat("bad-", c.name));
    const CallResult r = Call(c.request);
    EXPECT_EQ(r.request_id, absl::StrCat("bad-", c.name));  // refused requests are named too
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name << ": " << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_EQ(r.events, 0) << c.name;
  }
  EXPECT_THAT(Scrape(), HasSubstr(absl::StrCat("drivelm_requests_total{code=\"INVALID_ARGUMENT\"} ",
                                               cases.size())));
  // Nothing was queued; the server still answers.
  EXPECT_TRUE(EngineIdle());
  EXPECT_TRUE(Call(valid).status.ok());
}

TEST_F(ServiceTest, ConcurrentStreamsGetTheirOwnTokens) {
  StartServer();
  std::map<std::string, std::string> expected;
  for (const char* q : kQuestions) expected[q] = Expected(q);
  constexpr int kStreams = 20;
  std::vector<CallResult> results(kStreams);
  std::vector<v1::AnswerRequest> requests;
  for (int i = 0; i < kStreams; ++i) {
    v1::AnswerRequest r = SceneRequest({{absl::StrCat("s", i, "-a"), kQuestions[i % 4]},
                                        {absl::StrCat("s", i, "-b"), kQuestions[(i + 1) % 4]}});
    r.set_request_id(absl::StrCat("stream-", i));
    requests.push_back(std::move(r));
  }
  std::vector<std::thread> threads;
  std::atomic<int> started{0};
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      ++started;
      while (started.load() < kStreams) std::this_thread::yield();  // all at once
      results[i] = Call(requests[i], absl::Seconds(50));
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kStreams; ++i) {
    const CallResult& r = results[i];
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.error_message();
    EXPECT_EQ(r.request_id, absl::StrCat("stream-", i));
    ASSERT_EQ(r.done.size(), 2u) << i;
    EXPECT_EQ(r.text.count(absl::StrCat("s", i, "-a")) ? r.text.at(absl::StrCat("s", i, "-a")) : "",
              expected[kQuestions[i % 4]])
        << i;
    EXPECT_EQ(r.text.count(absl::StrCat("s", i, "-b")) ? r.text.at(absl::StrCat("s", i, "-b")) : "",
              expected[kQuestions[(i + 1) % 4]])
        << i;
  }
  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr(absl::StrCat("drivelm_requests_total{code=\"OK\"} ", kStreams)));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("drivelm_e2e_request_latency_seconds_count ", kStreams)));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("drivelm_time_to_first_token_seconds_count ",
                                           2 * kStreams)));
  // The sampler brings the gauges back to idle.
  EXPECT_TRUE(WaitFor([&] {
    const std::string now = Scrape();
    return absl::StrContains(now, "drivelm_num_requests_running 0") &&
           absl::StrContains(now, "drivelm_num_requests_waiting 0");
  }));
}

TEST_F(ServiceTest, ClientCancellationFreesTheSlot) {
  StartServer();
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::AnswerEvent>> reader =
      stub_->Answer(&context, LongRequest());
  v1::AnswerEvent event;
  ASSERT_TRUE(reader->Read(&event));  // running
  EXPECT_EQ(engine_->stats().running, 1);
  const absl::Time cancelled_at = absl::Now();
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(EngineIdle());
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(5));
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(Scrape(), "drivelm_requests_total{code=\"CANCELLED\"} 1");
  }));
  const CallResult next = Call(SceneRequest({{"q", kQuestions[0]}}));
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.text.count("q") ? next.text.at("q") : "", Expected(kQuestions[0]));
}

TEST_F(ServiceTest, DeadlineStopsTheWork) {
  StartServer();
  const absl::Time start = absl::Now();
  const CallResult r = Call(LongRequest(), absl::Milliseconds(400));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << r.status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_TRUE(EngineIdle());
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(Scrape(), "drivelm_requests_total{code=\"DEADLINE_EXCEEDED\"} 1");
  }));
  EXPECT_TRUE(Call(SceneRequest({{"q", kQuestions[1]}})).status.ok());
}

TEST_F(ServiceTest, FullQueueIsResourceExhausted) {
  engine::EngineOptions options = TestEngineOptions();
  options.max_queued_requests = 1;
  options.max_active_requests = 1;  // A is admitted; B must wait in the queue
  StartServer(options);
  // A runs, B waits in the one queue slot, C is refused.
  grpc::ClientContext a_context;
  auto a = stub_->Answer(&a_context, LongRequest());
  v1::AnswerEvent event;
  ASSERT_TRUE(a->Read(&event));
  grpc::ClientContext b_context;
  auto b = stub_->Answer(&b_context, LongRequest());
  ASSERT_TRUE(WaitFor([&] { return engine_->stats().waiting == 1; }));

  const CallResult c = Call(SceneRequest({{"q", kQuestions[0]}}));
  EXPECT_EQ(c.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << c.status.error_message();
  EXPECT_THAT(c.status.error_message(), HasSubstr("queue"));
  EXPECT_EQ(c.events, 0);

  b_context.TryCancel();
  a_context.TryCancel();
  while (a->Read(&event)) {
  }
  while (b->Read(&event)) {
  }
  EXPECT_EQ(a->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(b->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(EngineIdle());
  EXPECT_THAT(Scrape(), HasSubstr("drivelm_requests_total{code=\"RESOURCE_EXHAUSTED\"} 1"));
  EXPECT_TRUE(Call(SceneRequest({{"q", kQuestions[0]}})).status.ok());
}

TEST_F(ServiceTest, HealthServiceResponds) {
  StartServer();
  constexpr int kServing = 1, kNotServing = 2;
  EXPECT_EQ(CheckHealth(""), kServing);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus("drivelm.v1.DriveLM", true);
  EXPECT_EQ(CheckHealth("drivelm.v1.DriveLM"), kServing);
  health->SetServingStatus("drivelm.v1.DriveLM", false);
  EXPECT_EQ(CheckHealth("drivelm.v1.DriveLM"), kNotServing);
  health->SetServingStatus(false);
  EXPECT_EQ(CheckHealth(""), kNotServing);
  EXPECT_EQ(CheckHealth("no.such.Service"), -static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

TEST_F(ServiceTest, ReflectionListsAndDescribesTheService) {
  StartServer();
  // ServerReflectionRequest.list_services (field 7) = "".
  const std::string services = Reflect(StringField(7, ""));
  EXPECT_THAT(services, HasSubstr("drivelm.v1.DriveLM"));
  EXPECT_THAT(services, HasSubstr("grpc.health.v1.Health"));
  // file_containing_symbol (field 4): the descriptor of our .proto comes back.
  const std::string file = Reflect(StringField(4, "drivelm.v1.DriveLM"));
  EXPECT_THAT(file, HasSubstr("proto/drivelm/v1/drivelm.proto"));
  EXPECT_THAT(file, HasSubstr("AnswerRequest"));
}

}  // namespace
}  // namespace drivelm::server
