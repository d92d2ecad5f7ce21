#include "engine/vision/content_hash.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

// Reference values from the system libxxhash (XXH64 0.8.1) over bytes (i * 7 + 3) % 256;
// lengths cover every tail path (8/4/1-byte steps) and the 32-byte stripes.
TEST(ContentHashTest, Xxh64MatchesReferenceImplementation) {
  std::vector<uint8_t> data(100);
  for (int i = 0; i < 100; ++i) data[i] = static_cast<uint8_t>((i * 7 + 3) % 256);
  struct Case {
    size_t size;
    uint64_t seed;
    uint64_t expected;
  };
  const Case cases[] = {
      {0, 0, 0xef46db3751d8e999ULL},   {1, 0, 0x1f25c8d0bc1f4bb6ULL},
      {3, 0, 0x31d2363f52e564c9ULL},   {4, 0, 0x9bb64b7d66ee9fdaULL},
      {8, 0, 0xdab99d95c6f90092ULL},   {31, 0, 0xa2aa5f33cc4a6119ULL},
      {32, 0, 0x23c3c17ef790fd97ULL},  {33, 0, 0x50a7cfc7ba588784ULL},
      {63, 0, 0x5e3e54b431c7493cULL},  {64, 0, 0x0eb64b3ef6eeb01fULL},
      {100, 0, 0xa61f8d4c170fe531ULL}, {100, 0x123456789abcdef0ULL, 0x3c691e06b9fcc7dbULL},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Xxh64(data.data(), c.size, c.seed), c.expected) << "size " << c.size;
  }
  EXPECT_EQ(Xxh64("abc", 3, 0), 0x44bc2cf5ad770999ULL);
}

TEST(ContentHashTest, DependsOnPixelsAndShape) {
  Image a;
  a.width = 4;
  a.height = 6;
  a.pixels.assign(72, 7);
  Image b = a;
  EXPECT_EQ(ContentHash(a), ContentHash(b));
  b.pixels[71] = 8;
  EXPECT_NE(ContentHash(a), ContentHash(b));
  Image c = a;  // same bytes, transposed shape
  c.width = 6;
  c.height = 4;
  EXPECT_NE(ContentHash(a), ContentHash(c));
}

}  // namespace
}  // namespace drivelm::engine
