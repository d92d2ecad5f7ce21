#include "engine/tokenizer/tokenizer.h"

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/sentencepiece_model.h"
#include "engine/tokenizer/sentencepiece_training.h"
#include "engine/tokenizer/tiny_corpus.h"
#include "engine/tokenizer/tokenizer_test_util.h"
#include "engine/tokenizer/tokenizer_trainer.h"
#include "engine/tokenizer/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<int32_t> Ids(const nlohmann::json& array) {
  return array.get<std::vector<int32_t>>();
}

const nlohmann::json& Reference() {
  static const nlohmann::json* reference = [] {
    const std::string text = ReadFileOrEmpty(TokenizerTestDataPath("tokenizer_reference.json"));
    return new nlohmann::json(nlohmann::json::parse(text));
  }();
  return *reference;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// ---- Against transformers 4.47 (testdata/tokenizer_reference.json) ----

TEST(TokenizerReferenceTest, MetadataMatchesTransformers) {
  const Tokenizer& tok = CommittedTestTokenizer();
  const nlohmann::json& ref = Reference();
  EXPECT_EQ(tok.piece_count(), ref["piece_count"].get<int>());
  EXPECT_EQ(tok.vocab_size(), ref["len_tokenizer"].get<int>());
  EXPECT_EQ(tok.image_token_id(), ref["image_token_id"].get<int>());
  EXPECT_EQ(tok.image_token_id(), tok.piece_count());
  EXPECT_EQ(tok.bos_id(), ref["bos_id"].get<int>());
  EXPECT_EQ(tok.eos_id(), ref["eos_id"].get<int>());
  EXPECT_EQ(tok.pad_id(), ref["pad_id"].get<int>());
  EXPECT_EQ(tok.unk_id(), ref["unk_id"].get<int>());
  std::vector<int32_t> specials;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.IsSpecial(id)) specials.push_back(id);
  }
  EXPECT_THAT(specials, ElementsAreArray(Ids(ref["all_special_ids"])));
}

TEST(TokenizerReferenceTest, EncodeMatchesSentencePieceAndTransformers) {
  const Tokenizer& tok = CommittedTestTokenizer();
  SentencePieceModel::LoadError error;
  std::string message;
  auto raw = SentencePieceModel::LoadFile(TokenizerTestDataPath("tokenizer.model"), &error,
                                          &message);
  ASSERT_NE(raw, nullptr) << message;
  int checked = 0;
  for (const auto& entry : Reference()["encode"]) {
    const std::string text = entry["text"].get<std::string>();
    // libsentencepiece (C++, Debian) against the Python sentencepiece package.
    std::vector<int> sp_ids;
    ASSERT_TRUE(raw->Encode(text, &sp_ids, &message)) << message;
    EXPECT_THAT(sp_ids, ElementsAreArray(entry["sentencepiece_ids"].get<std::vector<int>>()))
        << "raw SentencePiece ids of \"" << text << "\"";
    // Ours against transformers' slow GemmaTokenizer inside PaliGemmaProcessor.
    EXPECT_THAT(tok.Encode(text), ElementsAreArray(Ids(entry["hf_ids"])))
        << "ids of \"" << text << "\"";
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(TokenizerReferenceTest, PromptsMatchPaliGemmaProcessor) {
  const Tokenizer& tok = CommittedTestTokenizer();
  const int image_seq_length = Reference()["image_seq_length"].get<int>();
  int six_image_prompts = 0;
  for (const auto& entry : Reference()["prompts"]) {
    const std::string prompt = entry["prompt"].get<std::string>();
    const int num_images = entry["num_images"].get<int>();
    auto ids = tok.BuildPaliGemmaPrompt(prompt, num_images, image_seq_length);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_THAT(*ids, ElementsAreArray(Ids(entry["ids"])))
        << num_images << " images, prompt \"" << prompt << "\"";
    if (num_images == 6) ++six_image_prompts;
  }
  EXPECT_GE(six_image_prompts, 5);
}

TEST(TokenizerReferenceTest, DecodeMatchesTransformers) {
  const Tokenizer& tok = CommittedTestTokenizer();
  int checked = 0;
  for (const auto& entry : Reference()["decode"]) {
    const std::vector<int32_t> ids = Ids(entry["ids"]);
    EXPECT_EQ(tok.Decode(ids), entry["text"].get<std::string>())
        << "decode of " << entry["ids"].dump();
    ++checked;
  }
  EXPECT_GE(checked, 60);
}

// ---- Behaviour on a tokenizer trained at test time ----

TEST(TokenizerTest, RoundTripsText) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const std::vector<std::string> texts = {
      "",
      "What is the future state of <c1,CAM_FRONT,1088.3,497.5>?",
      " leading space, trailing space ",
      "multiple   spaces\tand\ttabs\n\nand newlines\n",
      "digits 0123456789 and 3.14159",
      "Euro \xE2\x82\xAC, pound \xC2\xA3, yen \xC2\xA5",                        // not in corpus
      "\xE5\x89\x8D\xE6\x96\xB9\xE6\x9C\x89\xE8\xA1\x8C\xE4\xBA\xBA",          // 前方有行人
      "\xE9\x9F\x93\xE5\x9B\xBD\xE8\xAA\x9E",                                   // unseen CJK
      "emoji \xF0\x9F\x9A\x97\xF0\x9F\x98\x80\xF0\x9F\x9A\x80",
      "detect car <loc0001><loc0002><loc0003><loc0004> car ; <seg017>",
      "control chars \x01\x02\x7F",
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(tok.Decode(tok.Encode(text)), text);
  }
}

TEST(TokenizerTest, AddedTokensInTextBecomeTheirIds) {
  const Tokenizer& tok = TrainedTestTokenizer();
  EXPECT_THAT(tok.Encode("<bos>"), ElementsAreArray({tok.bos_id()}));
  EXPECT_THAT(tok.Encode("<eos><pad><unk><image>"),
              ElementsAreArray({tok.eos_id(), tok.pad_id(), tok.unk_id(), tok.image_token_id()}));
  EXPECT_THAT(tok.Encode("<loc0000><loc1023><seg000><seg127>"),
              ElementsAreArray({4, 4 + 1023, 4 + 1024, 4 + 1024 + 127}));
  // Near misses stay text.
  for (const char* text : {"<loc1024>", "<loc12>", "<bos", "bos>", "<BOS>"}) {
    const std::vector<int32_t> ids = tok.Encode(text);
    EXPECT_GT(ids.size(), 1u) << text;
    for (int32_t id : ids) EXPECT_FALSE(tok.IsSpecial(id)) << text;
  }
  // Specials are dropped by Decode; location tokens are kept.
  EXPECT_EQ(tok.Decode(tok.Encode("a<bos>b<eos>c<image>d")), "abcd");
  EXPECT_EQ(tok.Decode(tok.Encode("x<loc0042>y")), "x<loc0042>y");
}

TEST(TokenizerTest, LookupsAndSizes) {
  const Tokenizer& tok = TrainedTestTokenizer();
  EXPECT_EQ(tok.piece_count(), 2048);
  EXPECT_EQ(tok.vocab_size(), 2049);
  EXPECT_EQ(tok.image_token_id(), 2048);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.TokenToId("<image>"), 2048);
  EXPECT_EQ(tok.TokenToId("<bos>"), 2);
  EXPECT_EQ(tok.TokenToId("<loc0001>"), 5);
  EXPECT_EQ(tok.TokenToId("<0xE2>"), 4 + 1152 + 0xE2);
  EXPECT_EQ(tok.TokenToId("no such piece at all"), std::nullopt);
  EXPECT_EQ(tok.IdToToken(2048), "<image>");
  EXPECT_EQ(tok.IdToToken(0), "<pad>");
  EXPECT_EQ(tok.IdToToken(5), "<loc0001>");
  EXPECT_EQ(tok.IdToToken(-1), "");
  EXPECT_EQ(tok.IdToToken(2049), "");
  EXPECT_EQ(tok.token_info(4 + 1152 + 0xE2).kind, TokenKind::kByte);
  EXPECT_EQ(tok.token_info(4 + 1152 + 0xE2).byte, 0xE2);
  EXPECT_EQ(tok.token_info(5).kind, TokenKind::kAdded);
  EXPECT_EQ(tok.token_info(2048).kind, TokenKind::kSpecial);
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string token = tok.IdToToken(id);
    ASSERT_FALSE(token.empty()) << id;
    EXPECT_EQ(tok.TokenToId(token), id) << token;
  }
}

TEST(TokenizerTest, PieceTableAgreesWithSentencePieceDecode) {
  // IncrementalDetokenizer decodes piece by piece from this table; it must say what
  // SentencePiece says for every piece alone.
  const Tokenizer& tok = CommittedTestTokenizer();
  SentencePieceModel::LoadError error;
  std::string message;
  auto raw = SentencePieceModel::LoadFile(TokenizerTestDataPath("tokenizer.model"), &error,
                                          &message);
  ASSERT_NE(raw, nullptr) << message;
  for (int id = 0; id < tok.piece_count(); ++id) {
    const TokenInfo& info = tok.token_info(id);
    std::string decoded;
    ASSERT_TRUE(raw->Decode({id}, &decoded, &message)) << message;
    switch (info.kind) {
      case TokenKind::kText:
      case TokenKind::kAdded:
      case TokenKind::kUnknown:
        EXPECT_EQ(SpaceSymbolToSpace(decoded), info.text) << "piece " << id;
        break;
      case TokenKind::kByte: {
        std::string repaired;
        AppendUtf8Repaired(std::string(1, static_cast<char>(info.byte)), &repaired);
        EXPECT_EQ(decoded, repaired) << "piece " << id;
        break;
      }
      case TokenKind::kControl:
        EXPECT_EQ(decoded, "") << "piece " << id;
        break;
      case TokenKind::kSpecial:
        // Decode skips specials whatever SentencePiece would write (unk: " ⁇ ").
        EXPECT_EQ(info.text, "") << "piece " << id;
        break;
    }
  }
}

TEST(TokenizerTest, DecodeSkipsOutOfRangeIds) {
  const Tokenizer& tok = TrainedTestTokenizer();
  std::vector<int32_t> ids = tok.Encode("a car");
  std::vector<int32_t> with_junk = {-5, ids[0], 1 << 30, 2049};
  with_junk.insert(with_junk.end(), ids.begin() + 1, ids.end());
  EXPECT_EQ(tok.Decode(with_junk), "a car");
}

TEST(TokenizerTest, EncodeSurvivesInvalidUtf8) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const std::vector<int32_t> ids = tok.Encode("ok \xFF\xE2\x82 end");
  EXPECT_FALSE(ids.empty());
  for (int32_t id : ids) EXPECT_LT(id, tok.vocab_size());
  EXPECT_TRUE(IsValidUtf8(tok.Decode(ids)));
}

TEST(TokenizerTest, ConcurrentEncodeIsConsistent) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const std::string text =
      "What actions could the ego vehicle take based on <c1,CAM_BACK,1.0,2.0>?";
  const std::vector<int32_t> expected = tok.Encode(text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (tok.Encode(text) != expected) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// ---- BuildPaliGemmaPrompt ----

TEST(TokenizerTest, PromptLayout) {
  const Tokenizer& tok = TrainedTestTokenizer();
  auto ids = tok.BuildPaliGemmaPrompt("caption en", 6, 256);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_GT(ids->size(), 6u * 256u + 1u);
  for (size_t i = 0; i < 6 * 256; ++i) ASSERT_EQ((*ids)[i], tok.image_token_id()) << i;
  EXPECT_EQ((*ids)[6 * 256], tok.bos_id());
  const std::vector<int32_t> text(ids->begin() + 6 * 256 + 1, ids->end());
  EXPECT_EQ(text, tok.Encode("caption en\n"));
  EXPECT_EQ(tok.Decode(*ids), "caption en\n");
}

TEST(TokenizerTest, PromptRejectsBadInput) {
  const Tokenizer& tok = TrainedTestTokenizer();
  struct Case {
    std::string prompt;
    int num_images;
    int tokens;
    const char* message;
  };
  const Case cases[] = {
      {"q", 0, 256, "num_images is 0"},
      {"q", -1, 256, "num_images is -1"},
      {"q", 1, 0, "image_tokens_per_image is 0"},
      {"q", 1 << 20, 256, "more than the limit"},
      {"bad \xE2\x82 utf8", 1, 4, "not valid UTF-8 at byte 4"},
      {"look at <image> here", 1, 4, "contains \"<image>\""},
  };
  for (const Case& c : cases) {
    auto ids = tok.BuildPaliGemmaPrompt(c.prompt, c.num_images, c.tokens);
    ASSERT_FALSE(ids.ok()) << c.message;
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ids.status().message()), HasSubstr(c.message));
  }
}

// ---- Validate ----

TEST(TokenizerTest, ValidateAgainstModel) {
  const Tokenizer& tok = TrainedTestTokenizer();
  EXPECT_TRUE(tok.Validate(2049, 2048).ok());
  EXPECT_TRUE(tok.Validate(4096, 2048).ok());
  struct Case {
    int64_t vocab;
    int64_t image_index;
    const char* message;
  };
  const Case cases[] = {
      {1000, 2048, "has 2048 pieces but the model's vocabulary is 1000"},
      {2048, 2048, "image (<image>) id 2048 is outside the model's vocabulary of 2048"},
      {4096, 7, "gives <image> id 2048 but the model's image_token_index is 7"},
      {0, 2048, "vocabulary size is 0"},
  };
  for (const Case& c : cases) {
    const absl::Status status = tok.Validate(c.vocab, c.image_index);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(TokenizerTest, OverrideMakesThatPieceSpecial) {
  TokenizerOptions options;
  options.eos_id = 2047;
  auto tok = Tokenizer::Load(TokenizerTestDataPath("tokenizer.model"), options);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->eos_id(), 2047);
  EXPECT_TRUE((*tok)->IsSpecial(2047));
  EXPECT_FALSE((*tok)->IsSpecial(1));
  EXPECT_EQ((*tok)->Decode({2047}), "");
}

// ---- Load errors ----

TEST(TokenizerLoadTest, MissingFile) {
  auto tok = Tokenizer::Load(TestTempPath("does_not_exist.model"));
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("does_not_exist.model"));
}

TEST(TokenizerLoadTest, Directory) {
  auto tok = Tokenizer::Load(TestTempPath(""));
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("is a directory"));
}

TEST(TokenizerLoadTest, NotASentencePieceModel) {
  const std::string model = ReadFileOrEmpty(TokenizerTestDataPath("tokenizer.model"));
  ASSERT_GT(model.size(), 1000u);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty.model", ""},
      {"text.model", "this is not a tokenizer\n"},
      {"json.model", "{\"model\": {\"type\": \"BPE\"}}"},
      {"truncated.model", model.substr(0, model.size() / 2)},
      {"binary.model", std::string("\xFF\xFF\xFF\xFF\x00\x01\x02", 7)},
  };
  for (const auto& [name, bytes] : files) {
    const std::string path = TestTempPath(name);
    WriteFile(path, bytes);
    auto tok = Tokenizer::Load(path);
    ASSERT_FALSE(tok.ok()) << name;
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr(path)) << name;
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr("not a SentencePiece model"))
        << name;
    auto from_bytes = Tokenizer::LoadFromSerialized(bytes, name);
    EXPECT_FALSE(from_bytes.ok()) << name;
  }
}

TEST(TokenizerLoadTest, BadOverrides) {
  const std::string path = TokenizerTestDataPath("tokenizer.model");
  TokenizerOptions big_bos;
  big_bos.bos_id = 5000;
  auto too_big = Tokenizer::Load(path, big_bos);
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(std::string(too_big.status().message()),
              HasSubstr("bos id 5000 is not a piece of the model (2048 pieces)"));
  TokenizerOptions negative_pad;
  negative_pad.pad_id = -7;
  auto negative = Tokenizer::Load(path, negative_pad);
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(std::string(negative.status().message()), HasSubstr("pad id override -7"));
}

// Trains a model with the tiny settings changed by `changes`.
std::string TrainVariant(const std::map<std::string, std::string>& changes) {
  std::map<std::string, std::string> flags = TinyTokenizerTrainerFlags(1700);
  for (const auto& [key, value] : changes) flags[key] = value;
  std::string model, message;
  EXPECT_TRUE(TrainSentencePiece(flags, DefaultTinyCorpus(), 1, &model, &message)) << message;
  return model;
}

TEST(TokenizerLoadTest, RefusesModelsThatStripTheLeadingSpace) {
  const std::string model = TrainVariant({{"add_dummy_prefix", "true"}});
  auto tok = Tokenizer::LoadFromSerialized(model, "dummy_prefix.model");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("add_dummy_prefix"));
}

TEST(TokenizerLoadTest, ModelWithoutBosNeedsAnOverride) {
  const std::string model = TrainVariant({{"bos_id", "-1"}, {"unk_id", "2"}});
  auto tok = Tokenizer::LoadFromSerialized(model, "no_bos.model");
  ASSERT_FALSE(tok.ok());
  EXPECT_THAT(std::string(tok.status().message()),
              HasSubstr("no_bos.model: the model defines no bos piece"));
  TokenizerOptions options;
  options.bos_id = 1;
  auto with_override = Tokenizer::LoadFromSerialized(model, "no_bos.model", options);
  EXPECT_TRUE(with_override.ok()) << with_override.status();
}

}  // namespace
}  // namespace drivelm::engine
