#include "engine/tokenizer/tokenizer_trainer.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/tokenizer/tiny_corpus.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

std::string TempPath(const std::string& name) { return EnvOr("TEST_TMPDIR", "/tmp") + "/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(TinyCorpusTest, DeterministicAndVaried) {
  const std::vector<std::string> a = DefaultTinyCorpus();
  const std::vector<std::string> b = DefaultTinyCorpus();
  EXPECT_EQ(a, b);
  EXPECT_GE(a.size(), 300u);
  EXPECT_LE(a.size(), 1000u);
  const std::set<std::string> distinct(a.begin(), a.end());
  EXPECT_GE(distinct.size(), a.size() * 9 / 10);
  int refs = 0, newlines = 0, non_ascii = 0;
  for (const std::string& line : a) {
    if (line.find("<c") != std::string::npos && line.find(",CAM_") != std::string::npos) ++refs;
    if (line.find('\n') != std::string::npos) ++newlines;
    for (char c : line) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        ++non_ascii;
        break;
      }
    }
  }
  EXPECT_GE(refs, 200);
  EXPECT_GE(newlines, 10);
  EXPECT_GE(non_ascii, 5);
}

TEST(TokenizerTrainerTest, FastSmallAndGemmaLike) {
  const std::string path = TempPath("tiny.model");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(TrainTinyTokenizer(DefaultTinyCorpus(), 2048, path, /*seed=*/0).ok());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
  const std::string bytes = ReadFile(path);
  EXPECT_GT(bytes.size(), 10u * 1024u);
  EXPECT_LT(bytes.size(), 300u * 1024u);

  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.piece_count(), 2048);
  EXPECT_EQ(t.IdToToken(0), "<pad>");
  EXPECT_EQ(t.IdToToken(1), "<eos>");
  EXPECT_EQ(t.IdToToken(2), "<bos>");
  EXPECT_EQ(t.IdToToken(3), "<unk>");
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_EQ(t.bos_id(), 2);
  EXPECT_EQ(t.unk_id(), 3);
  // As in PaliGemma's tokenizer.model: location and segmentation tokens are pieces, so <image>
  // is the first id after the pieces.
  for (int i = 0; i < 1024; ++i) {
    ASSERT_EQ(t.TokenToId(absl::StrFormat("<loc%04d>", i)), 4 + i) << i;
  }
  for (int i = 0; i < 128; ++i) {
    ASSERT_EQ(t.TokenToId(absl::StrFormat("<seg%03d>", i)), 4 + 1024 + i) << i;
  }
  for (int b = 0; b < 256; ++b) {
    const auto id = t.TokenToId(absl::StrFormat("<0x%02X>", b));
    ASSERT_TRUE(id.has_value()) << b;
    EXPECT_EQ(t.token_info(*id).kind, TokenKind::kByte);
  }
  EXPECT_EQ(t.image_token_id(), 2048);
  EXPECT_EQ(t.vocab_size(), 2049);
  // Digits split, no dummy prefix, whitespace kept.
  EXPECT_EQ(t.Encode("2024").size(), 4u);
  EXPECT_EQ(t.Decode(t.Encode("  x  ")), "  x  ");
  EXPECT_EQ(t.Encode("the"), t.Encode("the"));
  EXPECT_NE(t.Encode("the"), t.Encode(" the"));
  // The corpus' multi-byte characters are pieces (character coverage 1.0).
  EXPECT_EQ(t.Encode("\xE5\x89\x8D").size(), 1u);  // 前
}

TEST(TokenizerTrainerTest, DeterministicBytes) {
  const std::vector<std::string> corpus = DefaultTinyCorpus();
  auto first = TrainTinyTokenizerModel(corpus, 2048, 42);
  auto second = TrainTinyTokenizerModel(corpus, 2048, 42);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(*first == *second) << "two trainings with the same seed differ";
  const std::string a = TempPath("det_a.model"), b = TempPath("det_b.model");
  ASSERT_TRUE(TrainTinyTokenizer(corpus, 1800, a, 3).ok());
  ASSERT_TRUE(TrainTinyTokenizer(corpus, 1800, b, 3).ok());
  EXPECT_TRUE(ReadFile(a) == ReadFile(b));
}

TEST(TokenizerTrainerTest, ReproducesTheCommittedTestModel) {
  // testdata/tokenizer.model was written by
  //   bazel run //engine/tokenizer:train_tiny_tokenizer -- --out=... --vocab_size=2048 --seed=0
  // If libsentencepiece changes and this fails, regenerate it and
  // tools/reference/tokenizer/make_tokenizer_reference.py's JSON together.
  const std::string committed = ReadFile(EnvOr("TEST_SRCDIR", ".") + "/" +
                                         EnvOr("TEST_WORKSPACE", "drivelm_serve") +
                                         "/engine/tokenizer/testdata/tokenizer.model");
  ASSERT_FALSE(committed.empty());
  auto trained = TrainTinyTokenizerModel(DefaultTinyCorpus(), 2048, 0);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_TRUE(*trained == committed)
      << "training no longer reproduces testdata/tokenizer.model byte for byte";
}

TEST(TokenizerTrainerTest, BadArguments) {
  const std::vector<std::string> corpus = DefaultTinyCorpus();
  struct Case {
    std::vector<std::string> corpus;
    int vocab;
    const char* message;
  };
  const Case cases[] = {
      {{}, 2048, "the corpus is empty"},
      {corpus, 100, "vocab_size 100 is too small"},
      {corpus, 100000, "Vocabulary size too high"},
      {{"x"}, 1500, "failed"},
  };
  for (const Case& c : cases) {
    auto model = TrainTinyTokenizerModel(c.corpus, c.vocab, 0);
    ASSERT_FALSE(model.ok()) << c.message;
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(c.message));
  }
  const absl::Status unwritable =
      TrainTinyTokenizer(corpus, 2048, "/nonexistent_dir_for_test/x/tokenizer.model", 0);
  EXPECT_FALSE(unwritable.ok());
  EXPECT_THAT(std::string(unwritable.message()), HasSubstr("/nonexistent_dir_for_test/x"));
}

}  // namespace
}  // namespace drivelm::engine
