#include "engine/tokenizer/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

TEST(Utf8Test, SequenceLengthFromLeadByte) {
  EXPECT_EQ(Utf8SequenceLength(0x41), 1);
  EXPECT_EQ(Utf8SequenceLength(0xC3), 2);
  EXPECT_EQ(Utf8SequenceLength(0xE2), 3);
  EXPECT_EQ(Utf8SequenceLength(0xF0), 4);
  EXPECT_EQ(Utf8SequenceLength(0x80), 0);
  EXPECT_EQ(Utf8SequenceLength(0xBF), 0);
  EXPECT_EQ(Utf8SequenceLength(0xF8), 0);
  EXPECT_EQ(Utf8SequenceLength(0xFF), 0);
}

TEST(Utf8Test, DecodesValidCharacters) {
  EXPECT_EQ(DecodeUtf8Char("a"), 1u);
  EXPECT_EQ(DecodeUtf8Char("\xC3\xA9x"), 2u);          // é
  EXPECT_EQ(DecodeUtf8Char("\xE2\x82\xAC"), 3u);       // €
  EXPECT_EQ(DecodeUtf8Char("\xF0\x9F\x9A\x97"), 4u);   // 🚗
  EXPECT_EQ(DecodeUtf8Char("\xF4\x8F\xBF\xBF"), 4u);   // U+10FFFF
  EXPECT_EQ(DecodeUtf8Char("\xEF\xBF\xBD"), 3u);       // U+FFFD itself
  EXPECT_EQ(DecodeUtf8Char(std::string_view("\0", 1)), 1u);
}

TEST(Utf8Test, RejectsWhatSentencePieceRejects) {
  EXPECT_EQ(DecodeUtf8Char(""), 0u);
  EXPECT_EQ(DecodeUtf8Char("\xE2\x82"), 0u);            // truncated
  EXPECT_EQ(DecodeUtf8Char("\x80"), 0u);                // continuation byte
  EXPECT_EQ(DecodeUtf8Char("\xC0\xAF"), 0u);            // overlong '/'
  EXPECT_EQ(DecodeUtf8Char("\xE0\x80\xAF"), 0u);        // overlong
  EXPECT_EQ(DecodeUtf8Char("\xF0\x80\x80\xAF"), 0u);    // overlong
  EXPECT_EQ(DecodeUtf8Char("\xED\xA0\x80"), 0u);        // surrogate U+D800
  EXPECT_EQ(DecodeUtf8Char("\xF4\x90\x80\x80"), 0u);    // U+110000
  EXPECT_EQ(DecodeUtf8Char("\xC3\x41"), 0u);            // lead byte then ASCII
  EXPECT_EQ(DecodeUtf8Char("\xFF"), 0u);
}

TEST(Utf8Test, RepairReplacesEachBadByte) {
  std::string out;
  AppendUtf8Repaired("\xE2\x82", &out);
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  AppendUtf8Repaired("a\xE2\x82\xAC\xC3\x41z", &out);
  EXPECT_EQ(out, "a\xE2\x82\xAC\xEF\xBF\xBD" "Az");
  out.clear();
  AppendUtf8Repaired("", &out);
  EXPECT_EQ(out, "");
}

TEST(Utf8Test, ValidatesAndReportsOffset) {
  size_t offset = 99;
  EXPECT_TRUE(IsValidUtf8("plain ascii \xE2\x82\xAC \xF0\x9F\x9A\x97", &offset));
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("ok\xE2\x82", &offset));
  EXPECT_EQ(offset, 2u);
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80", &offset));
  EXPECT_EQ(offset, 0u);
}

}  // namespace
}  // namespace drivelm::engine
