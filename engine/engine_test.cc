// Engine tests on a tiny random PaliGemma written at test time (tools/tiny_model_spec.h): 28 px
// images, one layer per tower, the six nuScenes cameras of the generated profile. Expected
// answers come from a second Generator (own backend) called directly: the engine must stream
// exactly what Generator::Generate / Answer produce, greedy.
#include "engine/engine.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "tools/tiny_model_spec.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(60);  // generous: CI cores are busy
constexpr int kShortTokens = 6;
constexpr int kLongTokens = 4096;

const std::vector<std::string>& Cameras() {
  static const auto* cameras = new std::vector<std::string>{
      "CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT",
      "CAM_BACK_RIGHT"};
  return *cameras;
}

// A width x height JPEG with a pattern that depends on `seed`.
std::string MakeJpeg(int width, int height, int seed) {
  std::vector<unsigned char> rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      unsigned char* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<unsigned char>((x * 7 + seed * 53) & 255);
      p[1] = static_cast<unsigned char>((y * 11 + seed * 29) & 255);
      p[2] = static_cast<unsigned char>(((x ^ y) * 5 + seed * 97) & 255);
    }
  }
  tjhandle handle = tjInitCompress();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(handle, rgb.data(), width, 0, height, TJPF_RGB, &buffer, &size,
                             TJSAMP_420, 90, TJFLAG_ACCURATEDCT);
  std::string out;
  if (rc == 0) out.assign(reinterpret_cast<const char*>(buffer), size);
  tjFree(buffer);
  tjDestroy(handle);
  return out;
}

// Image set `set`: the six cameras, each its own picture.
std::vector<CameraImage> SceneImages(int set) {
  std::vector<CameraImage> images;
  for (size_t i = 0; i < Cameras().size(); ++i) {
    images.push_back({Cameras()[i], MakeJpeg(48, 32, set * 10 + static_cast<int>(i))});
  }
  return images;
}

SceneRequest Scene(int set, std::vector<QuestionSpec> questions, int max_new_tokens) {
  SceneRequest r;
  r.request_id = absl::StrCat("r", set);
  r.scene_id = absl::StrCat("scene", set);
  r.images = SceneImages(set);
  r.questions = std::move(questions);
  r.max_new_tokens = max_new_tokens;
  return r;
}

QuestionSpec Q(std::string id, std::string text, std::vector<std::string> depends_on = {}) {
  QuestionSpec q;
  q.id = std::move(id);
  q.text = std::move(text);
  q.depends_on = std::move(depends_on);
  return q;
}

const char* const kQuestions[] = {
    "What are the important objects in the current scene?",
    "What is the moving status of object <c1,CAM_FRONT,800.0,450.0>?",
    "What actions could the ego vehicle take?",
    "Is there a traffic light ahead?",
};

// Everything one stream delivered, checked for the stream contract while collecting.
struct Collected {
  std::map<std::string, std::string> text;  // question id -> concatenated deltas
  std::map<std::string, AnswerEvent> done;  // question id -> its kDone
  std::vector<std::string> done_order;
  int deltas = 0;
  bool ended = false;  // Next() returned false without timing out
  absl::Status final_status;
};

// Drains `stream` until it ends; fails the test on a delta after its question's kDone, a second
// kDone, or a timeout.
Collected Drain(RequestStream& stream, absl::Duration timeout = kTimeout) {
  Collected c;
  const absl::Time give_up = absl::Now() + timeout;
  AnswerEvent event;
  while (true) {
    bool timed_out = false;
    if (!stream.Next(&event, give_up - absl::Now(), &timed_out)) {
      EXPECT_FALSE(timed_out) << "stream did not end in time";
      c.ended = !timed_out;
      break;
    }
    switch (event.kind) {
      case AnswerEvent::Kind::kDelta:
        EXPECT_EQ(c.done.count(event.question_id), 0u)
            << "delta after kDone for " << event.question_id;
        EXPECT_FALSE(event.text.empty());
        c.text[event.question_id] += event.text;
        ++c.deltas;
        break;
      case AnswerEvent::Kind::kDone:
        EXPECT_EQ(c.done.count(event.question_id), 0u)
            << "second kDone for " << event.question_id;
        c.done_order.push_back(event.question_id);
        c.done[event.question_id] = event;
        break;
    }
  }
  if (c.ended) c.final_status = stream.final_status();
  return c;
}

// Polls `condition` until it holds or `timeout` passes.
template <typename F>
bool WaitFor(F condition, absl::Duration timeout = kTimeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    model_dir_ = new std::string(absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/engine_test_model"));
    tools::TinyModelSpec spec;
    spec.seed = 7;
    spec.image_size = 28;
    spec.patch_size = 14;
    spec.vision_hidden = 32;
    spec.vision_intermediate = 64;
    spec.vision_layers = 1;
    spec.vision_heads = 2;
    spec.hidden = 32;
    spec.intermediate = 64;
    spec.layers = 1;
    spec.heads = 2;
    spec.kv_heads = 1;
    spec.head_dim = 16;
    absl::Status s = tools::WriteTinyModel(spec, *model_dir_);
    ASSERT_TRUE(s.ok()) << s;
    reference_backend_ = new CpuBackend(1);
    auto generator = Generator::Load(*model_dir_, reference_backend_);
    ASSERT_TRUE(generator.ok()) << generator.status();
    reference_ = generator->release();
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete reference_backend_;
    delete model_dir_;
  }

  void TearDown() override {
    engine_.reset();  // before the backend it uses
    backend_.reset();
  }

  // Defaults, but room for LongRequest().
  static EngineOptions TestOptions() {
    EngineOptions options;
    options.max_new_tokens_limit = kLongTokens;
    // One admitted request at a time, so that "queued while another runs" is deterministic;
    // the batching tests below admit many.
    options.max_active_requests = 1;
    return options;
  }

  // A fresh engine on its own backend; `options.generator` also loads its generator.
  Engine& StartEngine(EngineOptions options = TestOptions()) {
    backend_ = std::make_unique<CpuBackend>(1);
    auto generator = Generator::Load(*model_dir_, backend_.get(), options.generator);
    EXPECT_TRUE(generator.ok()) << generator.status();
    auto engine = Engine::Create(std::move(*generator), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    return *engine_;
  }

  // The reference answer of `question` about image set `set`, without context.
  static GenerateResult Expected(int set, const std::string& question, int max_new_tokens) {
    GenerateRequest request;
    request.images = SceneImages(set);
    request.question = question;
    request.max_new_tokens = max_new_tokens;
    absl::StatusOr<GenerateResult> result = reference_->Generate(request);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : GenerateResult{};
  }

  std::shared_ptr<RequestStream> MustSubmit(SceneRequest request) {
    absl::StatusOr<std::shared_ptr<RequestStream>> stream = engine_->Submit(std::move(request));
    EXPECT_TRUE(stream.ok()) << stream.status();
    return stream.ok() ? *stream : nullptr;
  }

  // A request that runs for a long time unless stopped: 64 questions of kLongTokens each (the
  // random model does not sample eos for them: ~30 us a token, 64 * 1024 tokens took 2 s on an
  // idle core, so this is ~10 s of work). Tests cancel it or let a deadline end it.
  static SceneRequest LongRequest(int set) {
    std::vector<QuestionSpec> questions;
    for (int i = 0; i < 64; ++i) {
      questions.push_back(Q(absl::StrCat("long", i), absl::StrCat("Describe object ", i, ".")));
    }
    return Scene(set, std::move(questions), kLongTokens);
  }

  bool WaitForStats(int64_t waiting, int64_t running) {
    return WaitFor([&] {
      EngineStats s = engine_->stats();
      return s.waiting == waiting && s.running == running;
    });
  }

  static std::string* model_dir_;
  static CpuBackend* reference_backend_;
  static Generator* reference_;
  std::unique_ptr<CpuBackend> backend_;
  std::unique_ptr<Engine> engine_;
};

std::string* EngineTest::model_dir_ = nullptr;
CpuBackend* EngineTest::reference_backend_ = nullptr;
Generator* EngineTest::reference_ = nullptr;

// Every question of `c` ended with kAbort and `code`.
void ExpectAllAborted(const Collected& c, const SceneRequest& request, absl::StatusCode code) {
  ASSERT_EQ(c.done.size(), request.questions.size());
  for (const auto& [id, done] : c.done) {
    EXPECT_EQ(done.finish_reason, FinishReason::kAbort) << id;
    EXPECT_EQ(done.status.code(), code) << id << ": " << done.status;
  }
}

TEST_F(EngineTest, StreamsWhatGenerateAnswers) {
  StartEngine();
  SceneRequest request = Scene(0, {Q("q1", kQuestions[0]), Q("q2", kQuestions[1])}, kShortTokens);
  std::shared_ptr<RequestStream> stream = MustSubmit(request);
  ASSERT_NE(stream, nullptr);
  Collected c = Drain(*stream);
  ASSERT_TRUE(c.ended);
  EXPECT_TRUE(c.final_status.ok()) << c.final_status;
  EXPECT_EQ(c.done_order, (std::vector<std::string>{"q1", "q2"}));
  EXPECT_GT(c.deltas, 2);  // streamed piece by piece, not in one event
  for (int i = 0; i < 2; ++i) {
    const QuestionSpec& q = request.questions[i];
    const GenerateResult expected = Expected(0, q.text, kShortTokens);
    ASSERT_FALSE(expected.text.empty()) << "pick another seed: the answer is empty";
    EXPECT_EQ(c.text[q.id], expected.text) << q.id;
    const AnswerEvent& done = c.done[q.id];
    EXPECT_TRUE(done.status.ok()) << done.status;
    EXPECT_EQ(done.finish_reason, expected.finish_reason);
    const QuestionUsage& u = done.usage;
    EXPECT_EQ(u.prompt_tokens, expected.prompt_tokens);
    EXPECT_EQ(u.generated_tokens, static_cast<int64_t>(expected.token_ids.size()));
    EXPECT_GE(u.queue_s, 0);
    EXPECT_GT(u.image_decode_s, 0);
    EXPECT_GT(u.vision_s, 0);
    EXPECT_GT(u.prefill_s, 0);
    EXPECT_GT(u.decode_s, 0);
    EXPECT_GT(u.ttft_s, u.queue_s);
    // Vision flops are the scene's on every question; prefill/decode the question's own.
    EXPECT_DOUBLE_EQ(u.flops.vision, expected.flops.vision);
    EXPECT_DOUBLE_EQ(u.flops.prefill, expected.flops.prefill);
    EXPECT_DOUBLE_EQ(u.flops.decode, expected.flops.decode);
  }
  // Both questions share one image encoding.
  EXPECT_EQ(c.done["q1"].usage.vision_s, c.done["q2"].usage.vision_s);
  EXPECT_EQ(c.done["q1"].usage.queue_s, c.done["q2"].usage.queue_s);
  EXPECT_TRUE(WaitForStats(0, 0));
}

TEST_F(EngineTest, DependentQuestionRunsAfterItsParentWithItsAnswerAsContext) {
  StartEngine();
  // The child comes first in the request; it must still run second.
  SceneRequest request =
      Scene(1, {Q("child", kQuestions[2], {"parent"}), Q("parent", kQuestions[0])}, kShortTokens);
  std::shared_ptr<RequestStream> stream = MustSubmit(request);
  ASSERT_NE(stream, nullptr);
  Collected c = Drain(*stream);
  ASSERT_TRUE(c.ended);
  EXPECT_TRUE(c.final_status.ok()) << c.final_status;
  EXPECT_EQ(c.done_order, (std::vector<std::string>{"parent", "child"}));
  EXPECT_TRUE(c.done["child"].status.ok()) << c.done["child"].status;

  const GenerateResult parent = Expected(1, kQuestions[0], kShortTokens);
  EXPECT_EQ(c.text["parent"], parent.text);

  GenerateRequest with_context;
  with_context.question = kQuestions[2];
  with_context.max_new_tokens = kShortTokens;
  with_context.context = {QaPair{kQuestions[0], parent.text}};
  auto encoded = reference_->EncodeImages(SceneImages(1));
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  auto child = reference_->Answer(*encoded, with_context);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(c.text["child"], child->text);
  EXPECT_EQ(c.done["child"].usage.prompt_tokens, child->prompt_tokens);
  // The context made the prompt longer than the question alone.
  const GenerateResult alone = Expected(1, kQuestions[2], kShortTokens);
  EXPECT_GT(c.done["child"].usage.prompt_tokens, alone.prompt_tokens);
}

TEST_F(EngineTest, QuestionWhoseContextDoesNotFitFailsAloneAndItsDependentsFollow) {
  // Room for the longest question without context, but not with a parent's Q/A.
  int64_t longest = 0;
  for (const char* q : {kQuestions[0], kQuestions[1], kQuestions[2]}) {
    longest = std::max(longest, Expected(2, q, kShortTokens).prompt_tokens);
  }
  EngineOptions options = TestOptions();
  options.generator.max_prompt_tokens = longest + kShortTokens + 2;
  StartEngine(options);
  SceneRequest request = Scene(2,
                               {Q("a", kQuestions[0]), Q("b", kQuestions[1], {"a"}),
                                Q("c", kQuestions[2], {"b"}), Q("d", kQuestions[2])},
                               kShortTokens);
  std::shared_ptr<RequestStream> stream = MustSubmit(request);
  ASSERT_NE(stream, nullptr);
  Collected c = Drain(*stream);
  ASSERT_TRUE(c.ended);
  EXPECT_TRUE(c.final_status.ok()) << c.final_status;  // the request itself ran to its end
  EXPECT_EQ(c.done_order, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(c.done["a"].status.ok()) << c.done["a"].status;
  EXPECT_EQ(c.done["b"].status.code(), absl::StatusCode::kInvalidArgument) << c.done["b"].status;
  EXPECT_THAT(c.done["b"].status.message(), HasSubstr("questions[b]: prompt"));
  EXPECT_EQ(c.done["b"].finish_reason, FinishReason::kAbort);
  EXPECT_EQ(c.done["c"].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.done["c"].status.message(), HasSubstr("parent b did not finish"));
  EXPECT_TRUE(c.done["d"].status.ok()) << c.done["d"].status;
  EXPECT_EQ(c.text["d"], Expected(2, kQuestions[2], kShortTokens).text);
  EXPECT_EQ(c.text.count("b"), 0u);
  EXPECT_EQ(c.text.count("c"), 0u);
}

TEST_F(EngineTest, ConcurrentSubmittersEachGetExactlyTheirOwnAnswers) {
  // Continuous batching across requests: many scenes' questions share each step, prefills mixed
  // with decodes; every answer must equal the unbatched Generator's (greedy).
  EngineOptions options = TestOptions();
  options.max_active_requests = 32;
  options.scheduler.max_batched_tokens = 64;
  StartEngine(options);
  constexpr int kSets = 3;
  constexpr int kThreads = 16;
  constexpr int kRequestsPerThread = 2;
  std::map<std::pair<int, int>, std::string> expected;  // (image set, question) -> answer
  for (int set = 0; set < kSets; ++set) {
    for (int q = 0; q < 3; ++q) expected[{set, q}] = Expected(set, kQuestions[q], kShortTokens).text;
  }
  std::atomic<int> ok_requests{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRequestsPerThread; ++r) {
        const int set = (t + r) % kSets;
        // Question ids are unique per thread and request, so mixed-up events would show.
        std::vector<QuestionSpec> questions;
        for (int q = 0; q < 3; ++q) {
          questions.push_back(Q(absl::StrCat("t", t, "r", r, "q", q), kQuestions[(q + t) % 3]));
        }
        SceneRequest request = Scene(set, questions, kShortTokens);
        request.priority = t % 2;
        absl::StatusOr<std::shared_ptr<RequestStream>> stream = engine_->Submit(request);
        ASSERT_TRUE(stream.ok()) << stream.status();
        Collected c = Drain(**stream);
        ASSERT_TRUE(c.ended);
        EXPECT_TRUE(c.final_status.ok()) << c.final_status;
        ASSERT_EQ(c.done.size(), 3u);
        for (int q = 0; q < 3; ++q) {
          const std::string& id = questions[q].id;
          EXPECT_TRUE(c.done[id].status.ok()) << c.done[id].status;
          EXPECT_EQ(c.text[id], (expected[{set, (q + t) % 3}])) << id;
        }
        EXPECT_EQ(c.text.size(), 3u);  // no deltas under foreign ids
        ++ok_requests;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok_requests.load(), kThreads * kRequestsPerThread);
  EXPECT_TRUE(WaitForStats(0, 0));
}

TEST_F(EngineTest, HigherPriorityRunsFirst) {
  StartEngine();
  SceneRequest blocker = LongRequest(0);
  std::shared_ptr<RequestStream> a = MustSubmit(blocker);
  ASSERT_TRUE(WaitForStats(0, 1));
  SceneRequest low = Scene(1, {Q("q", kQuestions[0])}, kShortTokens);
  SceneRequest high = Scene(2, {Q("q", kQuestions[0])}, kShortTokens);
  high.priority = 5;
  std::shared_ptr<RequestStream> b = MustSubmit(low);   // submitted first...
  std::shared_ptr<RequestStream> c = MustSubmit(high);  // ...but this one runs first
  ASSERT_TRUE(WaitForStats(2, 1));
  a->Cancel();
  Collected cb = Drain(*b);
  Collected cc = Drain(*c);
  ASSERT_TRUE(cb.final_status.ok() && cc.final_status.ok());
  // b waited longer although it came first: it started only after c.
  EXPECT_GT(cb.done["q"].usage.queue_s, cc.done["q"].usage.queue_s);
  Drain(*a);
}

TEST_F(EngineTest, InvalidRequestsAreRefusedNamingTheField) {
  EngineOptions options;
  options.max_images_per_request = 7;  // room for an unknown seventh camera
  options.max_questions_per_request = 4;
  options.max_question_bytes = 100;
  options.max_new_tokens_limit = 32;
  options.generator.max_pixels = 64 * 64;
  StartEngine(options);
  const SceneRequest good = Scene(0, {Q("q1", kQuestions[0]), Q("q2", kQuestions[1])}, 4);

  struct Case {
    const char* name;
    std::function<void(SceneRequest&)> mutate;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"missing camera", [](SceneRequest& r) { r.images.erase(r.images.begin() + 3); },
       "camera CAM_BACK is missing"},
      {"duplicate camera", [](SceneRequest& r) { r.images[1].camera = "CAM_FRONT"; },
       "camera CAM_FRONT is given more than once"},
      {"unknown camera",
       [](SceneRequest& r) { r.images.push_back({"CAM_ROOF", MakeJpeg(48, 32, 1)}); },
       "unknown camera CAM_ROOF"},
      {"no images", [](SceneRequest& r) { r.images.clear(); }, "images: 0 given"},
      {"too many images",
       [](SceneRequest& r) {
         r.images.push_back({"CAM_ROOF", MakeJpeg(48, 32, 1)});
         r.images.push_back({"CAM_BELOW", MakeJpeg(48, 32, 2)});
       },
       "images: 8 given, at most 7"},
      {"non-image bytes", [](SceneRequest& r) { r.images[2].encoded = "GIF89a not ours"; },
       "images[CAM_FRONT_RIGHT]"},
      {"empty image", [](SceneRequest& r) { r.images[0].encoded.clear(); }, "images[CAM_FRONT]"},
      {"unreadable jpeg header",
       [](SceneRequest& r) { r.images[4].encoded = std::string("\xFF\xD8\xFF\xE0", 4); },
       "images[CAM_BACK_LEFT]"},
      {"over the pixel bound",
       [](SceneRequest& r) { r.images[5].encoded = MakeJpeg(80, 80, 3); },
       "images[CAM_BACK_RIGHT]: JPEG of 80x80 = 6400 pixels is over the limit of 4096"},
      {"no questions", [](SceneRequest& r) { r.questions.clear(); }, "questions: 0 given"},
      {"too many questions",
       [](SceneRequest& r) {
         for (int i = 0; i < 3; ++i) r.questions.push_back(Q(absl::StrCat("x", i), "Why?"));
       },
       "questions: 5 given, at most 4"},
      {"empty question", [](SceneRequest& r) { r.questions[1].text.clear(); },
       "questions[q2].text"},
      {"question too long", [](SceneRequest& r) { r.questions[0].text = std::string(101, 'a'); },
       "questions[q1].text: 101 bytes, at most 100"},
      {"empty id", [](SceneRequest& r) { r.questions[1].id.clear(); }, "questions[1].id"},
      {"duplicate id", [](SceneRequest& r) { r.questions[1].id = "q1"; },
       "questions[1].id: \"q1\""},
      {"unknown depends_on", [](SceneRequest& r) { r.questions[1].depends_on = {"q7"}; },
       "questions[q2].depends_on: unknown question id \"q7\""},
      {"cycle",
       [](SceneRequest& r) {
         r.questions[0].depends_on = {"q2"};
         r.questions[1].depends_on = {"q1"};
       },
       "questions.depends_on: cycle q1 -> q2 -> q1"},
      {"self dependency", [](SceneRequest& r) { r.questions[0].depends_on = {"q1"}; },
       "cycle q1 -> q1"},
      {"max_new_tokens over the limit", [](SceneRequest& r) { r.max_new_tokens = 33; },
       "max_new_tokens: 33 is outside [1, 32]"},
      {"max_new_tokens zero", [](SceneRequest& r) { r.max_new_tokens = 0; }, "max_new_tokens"},
      {"bad sampling",
       [](SceneRequest& r) {
         SamplingParams s;
         s.greedy = false;
         s.top_p = 1.5;
         r.sampling = s;
       },
       "top_p"},
      {"empty stop string", [](SceneRequest& r) { r.stop_strings = {""}; }, "stop_strings"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    SceneRequest request = good;
    tc.mutate(request);
    absl::StatusOr<std::shared_ptr<RequestStream>> stream = engine_->Submit(std::move(request));
    ASSERT_FALSE(stream.ok());
    EXPECT_EQ(stream.status().code(), absl::StatusCode::kInvalidArgument) << stream.status();
    EXPECT_THAT(stream.status().message(), HasSubstr(tc.message));
  }
  EngineStats stats = engine_->stats();
  EXPECT_EQ(stats.waiting, 0);
  EXPECT_EQ(stats.running, 0);

  SceneRequest late = good;
  late.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(engine_->Submit(late).status().code(), absl::StatusCode::kDeadlineExceeded);

  // The good request itself is fine.
  std::shared_ptr<RequestStream> stream = MustSubmit(good);
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(Drain(*stream).final_status.ok());
}

TEST_F(EngineTest, ImageThatDoesNotDecodeFailsTheWholeRequest) {
  StartEngine();
  SceneRequest request = Scene(0, {Q("q1", kQuestions[0]), Q("q2", kQuestions[1])}, kShortTokens);
  // The header is intact (Submit accepts it); the data is cut short after the start of scan.
  std::string& front_left = request.images[1].encoded;
  const size_t sos = front_left.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  front_left.resize(sos + 40);
  std::shared_ptr<RequestStream> stream = MustSubmit(request);
  ASSERT_NE(stream, nullptr);
  Collected c = Drain(*stream);
  ASSERT_TRUE(c.ended);
  EXPECT_EQ(c.final_status.code(), absl::StatusCode::kInvalidArgument) << c.final_status;
  EXPECT_THAT(c.final_status.message(), HasSubstr("images[CAM_FRONT_LEFT]"));
  ExpectAllAborted(c, request, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.deltas, 0);
  // The engine goes on.
  std::shared_ptr<RequestStream> next =
      MustSubmit(Scene(0, {Q("q1", kQuestions[0])}, kShortTokens));
  EXPECT_TRUE(Drain(*next).final_status.ok());
}

TEST_F(EngineTest, FullQueueIsResourceExhausted) {
  EngineOptions options = TestOptions();
  options.max_queued_requests = 2;
  StartEngine(options);
  SceneRequest long_request = LongRequest(0);
  std::shared_ptr<RequestStream> running = MustSubmit(long_request);
  ASSERT_TRUE(WaitForStats(0, 1));
  SceneRequest small = Scene(1, {Q("q", kQuestions[0])}, kShortTokens);
  std::shared_ptr<RequestStream> b = MustSubmit(small);
  std::shared_ptr<RequestStream> c = MustSubmit(small);
  absl::StatusOr<std::shared_ptr<RequestStream>> refused = engine_->Submit(small);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("queue full: 2 requests waiting"));

  // A cancelled queued request gives its slot back.
  b->Cancel();
  Collected cb = Drain(*b);
  EXPECT_EQ(cb.final_status.code(), absl::StatusCode::kCancelled);
  ExpectAllAborted(cb, small, absl::StatusCode::kCancelled);
  std::shared_ptr<RequestStream> d = MustSubmit(small);
  ASSERT_NE(d, nullptr);
  running->Cancel();
  EXPECT_EQ(Drain(*running).final_status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(Drain(*c).final_status.ok());
  EXPECT_TRUE(Drain(*d).final_status.ok());
  EXPECT_TRUE(WaitForStats(0, 0));
}

TEST_F(EngineTest, CancellingARunningRequestStopsItAndFreesTheEngine) {
  StartEngine();
  SceneRequest request = LongRequest(0);
  std::shared_ptr<RequestStream> stream = MustSubmit(request);
  ASSERT_NE(stream, nullptr);
  // Wait until it produces text, then cancel.
  AnswerEvent first;
  ASSERT_TRUE(stream->Next(&first, kTimeout));
  ASSERT_EQ(first.kind, AnswerEvent::Kind::kDelta);
  ASSERT_EQ(first.question_id, "long0");
  stream->Cancel();
  EXPECT_TRUE(stream->cancelled());
  Collected c = Drain(*stream);
  ASSERT_TRUE(c.ended);
  EXPECT_EQ(c.final_status.code(), absl::StatusCode::kCancelled);
  ASSERT_EQ(c.done.size(), request.questions.size());
  // The running question stopped with kAbort; so did every later one.
  EXPECT_EQ(c.done["long63"].finish_reason, FinishReason::kAbort);
  EXPECT_EQ(c.done["long63"].status.code(), absl::StatusCode::kCancelled);
  int aborted = 0;
  for (const auto& [id, done] : c.done) {
    if (done.finish_reason == FinishReason::kAbort) {
      ++aborted;
      EXPECT_EQ(done.status.code(), absl::StatusCode::kCancelled) << id;
    } else {
      EXPECT_TRUE(done.status.ok()) << id;
    }
  }
  EXPECT_GT(aborted, 32);
  EXPECT_TRUE(WaitForStats(0, 0));
  std::shared_ptr<RequestStream> next =
      MustSubmit(Scene(0, {Q("q1", kQuestions[0])}, kShortTokens));
  EXPECT_TRUE(Drain(*next).final_status.ok());
}

TEST_F(EngineTest, CancellingAQueuedRequestEndsItWhileAnotherRuns) {
  StartEngine();
  std::shared_ptr<RequestStream> running = MustSubmit(LongRequest(0));
  ASSERT_TRUE(WaitForStats(0, 1));
  SceneRequest queued_request = Scene(1, {Q("a", kQuestions[0]), Q("b", kQuestions[1])}, 4);
  std::shared_ptr<RequestStream> queued = MustSubmit(queued_request);
  ASSERT_TRUE(WaitForStats(1, 1));
  queued->Cancel();
  Collected c = Drain(*queued);  // ends although the long request still runs
  ASSERT_TRUE(c.ended);
  EXPECT_EQ(c.final_status.code(), absl::StatusCode::kCancelled);
  ExpectAllAborted(c, queued_request, absl::StatusCode::kCancelled);
  EXPECT_EQ(c.deltas, 0);
  EXPECT_TRUE(WaitForStats(0, 1));
  EXPECT_FALSE(running->cancelled());
  running->Cancel();
  EXPECT_EQ(Drain(*running).final_status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(WaitForStats(0, 0));
}

TEST_F(EngineTest, DeadlinesEndRunningAndQueuedRequests) {
  StartEngine();
  SceneRequest running_request = LongRequest(0);
  running_request.deadline = absl::Now() + absl::Milliseconds(300);
  std::shared_ptr<RequestStream> running = MustSubmit(running_request);
  ASSERT_TRUE(WaitForStats(0, 1));
  SceneRequest queued_request = Scene(1, {Q("a", kQuestions[0])}, kShortTokens);
  queued_request.deadline = absl::Now() + absl::Milliseconds(50);
  std::shared_ptr<RequestStream> queued = MustSubmit(queued_request);

  Collected q = Drain(*queued);
  EXPECT_EQ(q.final_status.code(), absl::StatusCode::kDeadlineExceeded) << q.final_status;
  ExpectAllAborted(q, queued_request, absl::StatusCode::kDeadlineExceeded);
  Collected r = Drain(*running);
  EXPECT_EQ(r.final_status.code(), absl::StatusCode::kDeadlineExceeded) << r.final_status;
  EXPECT_EQ(r.done["long63"].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.done["long63"].finish_reason, FinishReason::kAbort);
  EXPECT_TRUE(WaitForStats(0, 0));
}

TEST_F(EngineTest, ShutdownWithGraceFinishesWorkAndRefusesNewRequests) {
  StartEngine();
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(MustSubmit(Scene(i, {Q("q", kQuestions[i])}, kShortTokens)));
  }
  std::thread shutdown([&] { engine_->Shutdown(absl::Seconds(60)); });
  // Refused as soon as shutdown has begun, while the accepted work still finishes.
  EXPECT_TRUE(WaitFor([&] {
    return engine_->Submit(Scene(0, {Q("q", kQuestions[0])}, kShortTokens)).status().code() ==
           absl::StatusCode::kUnavailable;
  }));
  shutdown.join();
  for (int i = 0; i < 3; ++i) {
    Collected c = Drain(*streams[i]);
    ASSERT_TRUE(c.ended);
    EXPECT_TRUE(c.final_status.ok()) << c.final_status;
    EXPECT_EQ(c.text["q"], Expected(i, kQuestions[i], kShortTokens).text);
  }
  absl::StatusOr<std::shared_ptr<RequestStream>> late =
      engine_->Submit(Scene(0, {Q("q", kQuestions[0])}, kShortTokens));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  engine_->Shutdown(absl::ZeroDuration());  // again: a no-op
}

TEST_F(EngineTest, ShutdownPastItsGraceEndsRunningAndQueuedRequests) {
  StartEngine();
  SceneRequest long_request = LongRequest(0);
  std::shared_ptr<RequestStream> running = MustSubmit(long_request);
  ASSERT_TRUE(WaitForStats(0, 1));
  SceneRequest queued_request = Scene(1, {Q("a", kQuestions[0])}, kShortTokens);
  std::shared_ptr<RequestStream> queued = MustSubmit(queued_request);
  engine_->Shutdown(absl::Milliseconds(100));
  EXPECT_EQ(engine_->stats().running, 0);
  Collected r = Drain(*running, absl::ZeroDuration());  // all delivered by the time of join
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.final_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.done.size(), long_request.questions.size());
  Collected q = Drain(*queued, absl::ZeroDuration());
  ASSERT_TRUE(q.ended);
  EXPECT_EQ(q.final_status.code(), absl::StatusCode::kUnavailable);
  ExpectAllAborted(q, queued_request, absl::StatusCode::kUnavailable);
}

TEST_F(EngineTest, DestructorEndsEveryStream) {
  StartEngine();
  std::shared_ptr<RequestStream> running = MustSubmit(LongRequest(0));
  ASSERT_TRUE(WaitForStats(0, 1));
  std::shared_ptr<RequestStream> queued =
      MustSubmit(Scene(1, {Q("a", kQuestions[0])}, kShortTokens));
  engine_.reset();
  EXPECT_EQ(Drain(*running, absl::ZeroDuration()).final_status.code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Drain(*queued, absl::ZeroDuration()).final_status.code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(EngineTest, CreateRefusesBadOptions) {
  backend_ = std::make_unique<CpuBackend>(1);
  auto generator = Generator::Load(*model_dir_, backend_.get());
  ASSERT_TRUE(generator.ok()) << generator.status();
  EngineOptions options;
  options.max_queued_requests = 0;
  auto engine = Engine::Create(std::move(*generator), options);
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr("max_queued_requests"));
  EXPECT_FALSE(Engine::Create(nullptr, EngineOptions{}).ok());
}

TEST(RequestStreamTest, NextTimesOutThenDeliversInOrderThenEnds) {
  RequestStream stream;
  AnswerEvent event;
  bool timed_out = false;
  EXPECT_FALSE(stream.Next(&event, absl::Milliseconds(5), &timed_out));
  EXPECT_TRUE(timed_out);
  AnswerEvent a;
  a.question_id = "a";
  a.text = "x";
  stream.Push(a);
  AnswerEvent done;
  done.kind = AnswerEvent::Kind::kDone;
  done.question_id = "a";
  stream.Push(done);
  stream.Close(absl::CancelledError("stop"));
  stream.Close(absl::OkStatus());  // a second close changes nothing
  stream.Push(a);                  // nor does a push after close
  ASSERT_TRUE(stream.Next(&event, absl::ZeroDuration(), &timed_out));
  EXPECT_EQ(event.text, "x");
  ASSERT_TRUE(stream.Next(&event, absl::ZeroDuration(), &timed_out));
  EXPECT_EQ(event.kind, AnswerEvent::Kind::kDone);
  EXPECT_FALSE(stream.Next(&event, absl::Seconds(5), &timed_out));
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(stream.final_status().code(), absl::StatusCode::kCancelled);
}

TEST(RequestStreamTest, NextWakesWhenAnotherThreadPushes) {
  RequestStream stream;
  std::thread producer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    AnswerEvent e;
    e.text = "late";
    stream.Push(e);
  });
  AnswerEvent event;
  EXPECT_TRUE(stream.Next(&event, kTimeout));
  EXPECT_EQ(event.text, "late");
  producer.join();
  EXPECT_FALSE(stream.cancelled());
  stream.Cancel();
  stream.Cancel();
  EXPECT_TRUE(stream.cancelled());
}

TEST(QuestionStageTest, Names) {
  EXPECT_STREQ(QuestionStageName(QuestionStage::kPerception), "perception");
  EXPECT_STREQ(QuestionStageName(QuestionStage::kBehavior), "behavior");
  EXPECT_STREQ(QuestionStageName(QuestionStage::kUnspecified), "unspecified");
}

}  // namespace
}  // namespace drivelm::engine
