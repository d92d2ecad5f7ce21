#include "engine/tokenizer/detokenizer.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_test_util.h"
#include "engine/tokenizer/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

int32_t ByteId(const Tokenizer& tok, uint8_t byte) {
  char piece[8];
  std::snprintf(piece, sizeof(piece), "<0x%02X>", byte);
  return *tok.TokenToId(piece);
}

std::vector<int32_t> BytesOf(const Tokenizer& tok, std::string_view text) {
  std::vector<int32_t> ids;
  for (char c : text) ids.push_back(ByteId(tok, static_cast<uint8_t>(c)));
  return ids;
}

// Feeds `ids` one at a time; checks every delta is valid UTF-8; returns the concatenation.
std::string Stream(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  IncrementalDetokenizer detok(tok);
  std::string text;
  for (int32_t id : ids) {
    const std::string delta = detok.Add(id);
    EXPECT_TRUE(IsValidUtf8(delta)) << "delta after id " << id;
    EXPECT_LE(detok.held_bytes(), 3u);
    text += delta;
  }
  const std::string tail = detok.Finish();
  EXPECT_TRUE(IsValidUtf8(tail));
  EXPECT_EQ(detok.held_bytes(), 0u);
  return text + tail;
}

TEST(IncrementalDetokenizerTest, HoldsBytesUntilTheCharacterCompletes) {
  const Tokenizer& tok = TrainedTestTokenizer();
  IncrementalDetokenizer detok(tok);
  EXPECT_EQ(detok.Add(ByteId(tok, 0xE2)), "");
  EXPECT_EQ(detok.held_bytes(), 1u);
  EXPECT_EQ(detok.Add(ByteId(tok, 0x82)), "");
  EXPECT_EQ(detok.Add(ByteId(tok, 0xAC)), "\xE2\x82\xAC");  // €
  EXPECT_EQ(detok.held_bytes(), 0u);
  // A 4-byte emoji.
  for (uint8_t b : {0xF0, 0x9F, 0x9A}) EXPECT_EQ(detok.Add(ByteId(tok, b)), "");
  EXPECT_EQ(detok.Add(ByteId(tok, 0x97)), "\xF0\x9F\x9A\x97");
  EXPECT_EQ(detok.Finish(), "");
}

TEST(IncrementalDetokenizerTest, IncompleteTailBecomesReplacementCharacters) {
  const Tokenizer& tok = TrainedTestTokenizer();
  IncrementalDetokenizer detok(tok);
  EXPECT_EQ(detok.Add(ByteId(tok, 0xE2)), "");
  EXPECT_EQ(detok.Add(ByteId(tok, 0x82)), "");
  // One U+FFFD per byte, as SentencePiece (and so transformers' slow decode) does.
  EXPECT_EQ(detok.Finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tok.Decode({ByteId(tok, 0xE2), ByteId(tok, 0x82)}), "\xEF\xBF\xBD\xEF\xBF\xBD");
  // Finish resets: the detokenizer starts a new sequence cleanly.
  EXPECT_EQ(detok.Add(*tok.TokenToId("a")), "a");
}

TEST(IncrementalDetokenizerTest, InvalidBytesAreReplacedWithoutWaiting) {
  const Tokenizer& tok = TrainedTestTokenizer();
  IncrementalDetokenizer detok(tok);
  EXPECT_EQ(detok.Add(ByteId(tok, 0x80)), "\xEF\xBF\xBD");  // stray continuation byte
  EXPECT_EQ(detok.Add(ByteId(tok, 0xC3)), "");
  // 'A' as a byte piece cannot continue 0xC3: both are settled at once.
  EXPECT_EQ(detok.Add(ByteId(tok, 0x41)), "\xEF\xBF\xBD" "A");
  EXPECT_EQ(detok.Finish(), "");
}

TEST(IncrementalDetokenizerTest, SpecialsDoNotCutByteRunsButPiecesDo) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const int32_t e2 = ByteId(tok, 0xE2), x82 = ByteId(tok, 0x82), xac = ByteId(tok, 0xAC);
  // transformers drops specials before SentencePiece sees the ids: the bytes still join.
  const std::vector<int32_t> with_eos = {e2, tok.eos_id(), x82, tok.image_token_id(), xac};
  EXPECT_EQ(Stream(tok, with_eos), "\xE2\x82\xAC");
  EXPECT_EQ(tok.Decode(with_eos), "\xE2\x82\xAC");
  // An added token (<loc0001>) or a text piece ends the run.
  const std::vector<int32_t> with_loc = {e2, *tok.TokenToId("<loc0001>"), x82, xac};
  EXPECT_EQ(Stream(tok, with_loc), tok.Decode(with_loc));
  EXPECT_EQ(tok.Decode(with_loc), "\xEF\xBF\xBD<loc0001>\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(IncrementalDetokenizerTest, LeadingSpaceIsKeptPieceByPiece) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const std::vector<int32_t> ids = tok.Encode(" the car is moving");
  ASSERT_GE(ids.size(), 2u);
  IncrementalDetokenizer detok(tok);
  const std::string first = detok.Add(ids[0]);
  EXPECT_EQ(first.substr(0, 1), " ");
  EXPECT_EQ(Stream(tok, ids), " the car is moving");
}

TEST(IncrementalDetokenizerTest, SpaceSymbolFromBytesBecomesASpace) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const std::vector<int32_t> ids = BytesOf(tok, "\xE2\x96\x81");  // U+2581 spelled in bytes
  EXPECT_EQ(tok.Decode(ids), " ");
  EXPECT_EQ(Stream(tok, ids), " ");
}

TEST(IncrementalDetokenizerTest, StreamsEncodedTextBack) {
  const Tokenizer& tok = TrainedTestTokenizer();
  const std::vector<std::string> texts = {
      "The ego vehicle should keep going at the same speed.",
      "  Euro \xE2\x82\xAC and emoji \xF0\x9F\x9A\x97\xF0\x9F\x98\x80 and \xE9\x9F\x93\xE5\x9B\xBD",
      "\xE5\x89\x8D\xE6\x96\xB9\xE6\x9C\x89\xE8\xA1\x8C\xE4\xBA\xBA <loc0001><loc0999> x",
      "line\nbreaks\n\n and\ttabs ",
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(Stream(tok, tok.Encode(text)), text);
  }
}

TEST(IncrementalDetokenizerTest, SkipsOutOfRangeIds) {
  const Tokenizer& tok = TrainedTestTokenizer();
  IncrementalDetokenizer detok(tok);
  EXPECT_EQ(detok.Add(-1), "");
  EXPECT_EQ(detok.Add(tok.vocab_size()), "");
  EXPECT_EQ(detok.AddAll({ByteId(tok, 0xE2), 1 << 30, ByteId(tok, 0x82), ByteId(tok, 0xAC)}),
            "\xE2\x82\xAC");
}

// Property: for random id sequences, the streamed text equals Decode of all ids.
TEST(IncrementalDetokenizerTest, RandomSequencesMatchDecode) {
  const Tokenizer& tok = TrainedTestTokenizer();
  std::mt19937_64 rng(20240611);
  // Bytes of real characters (2-, 3-, 4-byte, U+2581, U+FFFD) so runs often complete.
  const std::vector<std::string> characters = {
      "\xC3\xA9", "\xC3\x9F", "\xE2\x82\xAC", "\xE5\x89\x8D", "\xE9\x9F\x93",
      "\xE2\x96\x81", "\xEF\xBF\xBD", "\xF0\x9F\x9A\x97", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
  const std::vector<int32_t> specials = {tok.bos_id(), tok.eos_id(), tok.pad_id(), tok.unk_id(),
                                         tok.image_token_id()};
  const auto below = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  int nonempty = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<int32_t> ids;
    const int length = 1 + below(40);
    for (int i = 0; i < length; ++i) {
      const int r = below(100);
      if (r < 30) {
        const std::string& c = characters[below(static_cast<int>(characters.size()))];
        // Sometimes only part of the character.
        const size_t take = below(4) == 0 ? 1 + below(static_cast<int>(c.size())) : c.size();
        for (size_t k = 0; k < take; ++k) ids.push_back(ByteId(tok, static_cast<uint8_t>(c[k])));
      } else if (r < 45) {
        ids.push_back(ByteId(tok, static_cast<uint8_t>(below(256))));
      } else if (r < 55) {
        ids.push_back(specials[below(static_cast<int>(specials.size()))]);
      } else if (r < 62) {
        ids.push_back(4 + below(1152));  // <locNNNN>, <segNNN>
      } else if (r < 65) {
        ids.push_back(below(2) == 0 ? -1 - below(10) : tok.vocab_size() + below(10));
      } else {
        ids.push_back(below(tok.vocab_size()));
      }
    }
    const std::string expected = tok.Decode(ids);
    ASSERT_TRUE(IsValidUtf8(expected));
    ASSERT_EQ(Stream(tok, ids), expected) << "trial " << trial;
    if (!expected.empty()) ++nonempty;
  }
  EXPECT_GT(nonempty, 2500);
}

}  // namespace
}  // namespace drivelm::engine
