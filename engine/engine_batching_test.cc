// The engine's continuous batching, caches and preemption on the committed tiny Gemma-2
// checkpoint (six 56 px cameras, 16 tokens each): every batched answer must equal the one-request
// Generator's greedy answer for the same question, and the caches must do the work once.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/engine.h"

namespace drivelm::engine {
namespace {

constexpr char kModel[] = "tests/golden/models/gemma2_h96";
constexpr int kTokens = 6;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Six cameras; `rotate` shifts which image goes to which camera (a different scene).
std::vector<CameraImage> Scene(int rotate) {
  const char* cams[] = {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                        "CAM_BACK",  "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};
  std::vector<CameraImage> images;
  for (int i = 0; i < 6; ++i) {
    const int k = (i + rotate) % 6;
    images.push_back({cams[i], ReadFile("tests/golden/images/cam" + std::to_string(k) +
                                        (k == 5 ? ".png" : ".jpg"))});
  }
  return images;
}

std::string Question(int i) {
  static const char* kBase[] = {"What are the important objects in the current scene?",
                                "What is the moving status of the car in front?",
                                "What actions could the ego vehicle take?",
                                "Is there a pedestrian near the crosswalk?",
                                "Which lane should the ego vehicle use?"};
  return absl::StrCat(kBase[i % 5], i >= 5 ? absl::StrCat(" (", i, ")") : "");
}

struct Answer {
  std::string text;
  AnswerEvent done;
  int done_events = 0;
};

std::map<std::string, Answer> Drain(RequestStream& stream, absl::Status* final_status) {
  std::map<std::string, Answer> out;
  AnswerEvent e;
  while (stream.Next(&e, absl::Seconds(60))) {
    Answer& a = out[e.question_id];
    if (e.kind == AnswerEvent::Kind::kDelta) {
      EXPECT_EQ(a.done_events, 0) << "delta after done for " << e.question_id;
      a.text += e.text;
    } else {
      ++a.done_events;
      a.done = e;
    }
  }
  *final_status = stream.final_status();
  return out;
}

class EngineBatchingTest : public ::testing::Test {
 protected:
  // The unbatched reference answer.
  std::string Expected(int rotate, const std::string& question) {
    const std::string key = absl::StrCat(rotate, "|", question);
    auto it = expected_.find(key);
    if (it != expected_.end()) return it->second;
    if (!reference_) {
      auto g = Generator::Load(kModel, &reference_backend_);
      EXPECT_TRUE(g.ok()) << g.status();
      reference_ = std::move(*g);
    }
    GenerateRequest r;
    r.images = Scene(rotate);
    r.question = question;
    r.max_new_tokens = kTokens;
    r.sampling = SamplingParams{};
    auto result = reference_->Generate(r);
    EXPECT_TRUE(result.ok()) << result.status();
    return expected_[key] = result->text;
  }

  Engine& Start(EngineOptions options) {
    auto g = Generator::Load(kModel, &backend_, options.generator);
    EXPECT_TRUE(g.ok()) << g.status();
    auto engine = Engine::Create(std::move(*g), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    return *engine_;
  }

  SceneRequest Request(int rotate, int questions, int first = 0) {
    SceneRequest r;
    r.scene_id = absl::StrCat("scene", rotate);
    r.images = Scene(rotate);
    for (int i = 0; i < questions; ++i) {
      r.questions.push_back({absl::StrCat("s", rotate, "q", first + i), Question(first + i),
                             QuestionStage::kPerception, {}});
    }
    r.max_new_tokens = kTokens;
    r.sampling = SamplingParams{};
    return r;
  }

  // Submits, drains, and checks every answer against the unbatched reference.
  void RunAndCheck(const SceneRequest& request) {
    auto stream = engine_->Submit(request);
    ASSERT_TRUE(stream.ok()) << stream.status();
    absl::Status status;
    auto answers = Drain(**stream, &status);
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_EQ(answers.size(), request.questions.size());
    const int rotate = std::stoi(request.scene_id.substr(5));
    for (const QuestionSpec& q : request.questions) {
      const Answer& a = answers[q.id];
      EXPECT_EQ(a.done_events, 1) << q.id;
      EXPECT_TRUE(a.done.status.ok()) << q.id << ": " << a.done.status;
      EXPECT_EQ(a.text, Expected(rotate, q.text)) << q.id;
      EXPECT_EQ(a.done.usage.generated_tokens, kTokens) << q.id;
    }
  }

  CpuBackend backend_{2};
  CpuBackend reference_backend_{1};
  std::unique_ptr<Generator> reference_;
  std::map<std::string, std::string> expected_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineBatchingTest, TwentyQuestionsEncodeTheSixImagesOnce) {
  Start(EngineOptions{});
  RunAndCheck(Request(0, 20));
  EngineStats s = engine_->stats();
  EXPECT_EQ(s.vision_cache_queries, 6);
  EXPECT_EQ(s.vision_cache_hits, 0);
  // The same scene again: no image is encoded.
  RunAndCheck(Request(0, 2, 20));
  s = engine_->stats();
  EXPECT_EQ(s.vision_cache_queries, 12);
  EXPECT_EQ(s.vision_cache_hits, 6);
  EXPECT_GT(s.flops_saved_vision, 0);
}

TEST_F(EngineBatchingTest, FourConcurrentScenesGetTheirOwnAnswers) {
  EngineOptions options;
  options.scheduler.max_batched_tokens = 256;  // several prefills share a step, mixed with decodes
  Start(options);
  std::vector<std::thread> threads;
  for (int scene = 0; scene < 4; ++scene) {
    Expected(scene, Question(0));  // warm the reference outside the threads
    for (int q = 0; q < 5; ++q) Expected(scene, Question(q));
  }
  for (int scene = 0; scene < 4; ++scene) {
    threads.emplace_back([this, scene] { RunAndCheck(Request(scene, 5)); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_GT(engine_->stats().steps, 0);
}

TEST_F(EngineBatchingTest, PreemptedQuestionsProduceTheSameGreedyTokens) {
  EngineOptions options;
  // Room for about two sequences (prompt ~130 tokens + 6): the others wait or are preempted.
  options.kv_block_size = 16;
  options.kv_cache_bytes = 20 * 2 * 2 * 16 * 2 * 24 * 4;  // 20 blocks x (2 layers, K+V, ...)
  options.enable_prefix_caching = false;
  Start(options);
  for (int q = 0; q < 6; ++q) Expected(1, Question(q));
  RunAndCheck(Request(1, 6));
  EXPECT_GT(engine_->stats().num_preemptions, 0);
  // Stats are published after the step that closed the stream: wait for them.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (engine_->stats().kv_cache_usage_ratio > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(engine_->stats().kv_cache_usage_ratio, 0);
}

TEST_F(EngineBatchingTest, IdenticalPromptsShareTheirPrefixInExactMode) {
  Start(EngineOptions{});
  RunAndCheck(Request(2, 1));
  RunAndCheck(Request(2, 1));  // the same question on the same scene: its prompt blocks hit
  EngineStats s = engine_->stats();
  EXPECT_GT(s.prefix_cache_hits, 0);
  EXPECT_GT(s.flops_saved_prefix, 0);
  // A different question on the same scene shares nothing in exact mode (bidirectional prefix).
  const int64_t hits = s.prefix_cache_hits;
  RunAndCheck(Request(2, 1, 3));
  EXPECT_EQ(engine_->stats().prefix_cache_hits, hits);
}

TEST_F(EngineBatchingTest, SameTextWithOtherImagesSharesNothing) {
  Start(EngineOptions{});
  RunAndCheck(Request(4, 1));
  RunAndCheck(Request(5, 1));  // the same question, another scene
  EXPECT_EQ(engine_->stats().prefix_cache_hits, 0);
}

TEST_F(EngineBatchingTest, CancellationFreesKvBlocksAtOnce) {
  EngineOptions options;
  options.max_new_tokens_limit = 4000;
  Start(options);
  SceneRequest r = Request(0, 8);
  r.max_new_tokens = 4000;  // far longer than the test waits
  auto stream = engine_->Submit(r);
  ASSERT_TRUE(stream.ok());
  AnswerEvent e;
  ASSERT_TRUE((*stream)->Next(&e, absl::Seconds(30)));  // running: it produced text
  for (int i = 0; i < 2000 && engine_->stats().kv_cache_usage_ratio == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));  // stats are published after each step
  }
  EXPECT_GT(engine_->stats().kv_cache_usage_ratio, 0);
  (*stream)->Cancel();
  absl::Status status;
  auto answers = Drain(**stream, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (engine_->stats().kv_cache_usage_ratio > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(engine_->stats().kv_cache_usage_ratio, 0);
  EXPECT_EQ(engine_->stats().running_sequences, 0);
  RunAndCheck(Request(0, 1));  // and the engine serves the next request
}

TEST_F(EngineBatchingTest, SharedImagePrefixIsComputedOncePerScene) {
  const std::string profile =
      (std::filesystem::path(testing::TempDir()) / "shared_profile.yaml").string();
  {
    std::ofstream out(profile);
    out << ReadFile(std::string(kModel) + "/drivelm_profile.yaml");
    out << "\n";
  }
  // Swap the image_prefix line for shared.
  std::string text = ReadFile(profile);
  const size_t at = text.find("image_prefix: exact");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("image_prefix: exact").size(), "image_prefix: shared");
  std::ofstream(profile) << text;

  EngineOptions options;
  options.generator.profile_path = profile;
  Start(options);
  const int kQuestions = 5;
  auto stream = engine_->Submit(Request(3, kQuestions));
  ASSERT_TRUE(stream.ok()) << stream.status();
  absl::Status status;
  auto answers = Drain(**stream, &status);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(answers.size(), size_t(kQuestions));
  double prefill_flops = 0;
  for (auto& [id, a] : answers) {
    EXPECT_TRUE(a.done.status.ok()) << id;
    EXPECT_EQ(a.done.usage.generated_tokens, kTokens);
    prefill_flops += a.done.usage.flops.prefill;
  }
  // Every question found the scene's 96 image tokens (6 blocks) in the prefix cache.
  EngineStats s = engine_->stats();
  EXPECT_EQ(s.prefix_cache_hits, kQuestions * 96);
  EXPECT_GT(s.flops_saved_prefix, 0);

  // Exact mode on the same scene computes the image tokens once per question: more prefill.
  EngineOptions exact;
  Start(exact);
  auto exact_stream = engine_->Submit(Request(3, kQuestions));
  ASSERT_TRUE(exact_stream.ok());
  auto exact_answers = Drain(**exact_stream, &status);
  double exact_flops = 0;
  for (auto& [id, a] : exact_answers) exact_flops += a.done.usage.flops.prefill;
  EXPECT_LT(prefill_flops, exact_flops);
  std::printf("prefill FLOPs for %d questions: shared %.3g, exact %.3g (%.1f%% saved)\n",
              kQuestions, prefill_flops, exact_flops, 100 * (1 - prefill_flops / exact_flops));
}

}  // namespace
}  // namespace drivelm::engine
