#include "engine/cache/vision_cache.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

constexpr int32_t kSize = 224;  // the model's image size

// Features [tokens, hidden] of f32 filled with `fill`: tokens * hidden * 4 bytes.
Tensor Features(int64_t tokens, int64_t hidden, float fill) {
  const int64_t n = tokens * hidden;
  std::shared_ptr<float> buf(new float[n], std::default_delete<float[]>());
  for (int64_t i = 0; i < n; ++i) buf.get()[i] = fill;
  return Tensor(std::shared_ptr<void>(buf, buf.get()), buf.get(), DType::kF32, {tokens, hidden},
                Device::kCpu);
}

VisionCacheKey Key(uint64_t hash, int32_t size = kSize) { return {hash, size, size}; }

TEST(VisionCacheTest, MissThenHitSharesStorage) {
  VisionCache cache(1 << 20, 16);
  EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
  const Tensor f = Features(4, 8, 1.5f);
  ASSERT_TRUE(cache.Insert(Key(1), f).ok());
  std::optional<Tensor> got = cache.Lookup(Key(1));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->data(), f.data());  // by value, same storage
  EXPECT_EQ(got->shape(), (Shape{4, 8}));
  EXPECT_EQ(got->f32()[31], 1.5f);
  VisionCacheStats s = cache.stats();
  EXPECT_EQ(s.queries, 2);
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.insertions, 1);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes, 4u * 8u * 4u);
  EXPECT_FALSE(cache.Lookup(Key(2)).has_value());
  EXPECT_EQ(cache.stats().queries, 3);
  EXPECT_EQ(cache.stats().hits, 1);
}

TEST(VisionCacheTest, DistinctImageSizesDoNotCollide) {
  VisionCache cache(1 << 20, 16);
  ASSERT_TRUE(cache.Insert({7, 224, 224}, Features(2, 2, 1.0f)).ok());
  EXPECT_FALSE(cache.Lookup({7, 448, 448}).has_value());
  EXPECT_FALSE(cache.Lookup({7, 224, 448}).has_value());
  EXPECT_FALSE(cache.Lookup({7, 448, 224}).has_value());
  ASSERT_TRUE(cache.Insert({7, 448, 448}, Features(8, 2, 2.0f)).ok());
  EXPECT_EQ(cache.Lookup({7, 224, 224})->f32()[0], 1.0f);
  EXPECT_EQ(cache.Lookup({7, 448, 448})->f32()[0], 2.0f);
  EXPECT_EQ(cache.stats().entries, 2);
}

TEST(VisionCacheTest, EntryCapacityEvictsLeastRecentlyUsed) {
  VisionCache cache(1 << 20, 2);
  ASSERT_TRUE(cache.Insert(Key(1), Features(1, 1, 1)).ok());
  ASSERT_TRUE(cache.Insert(Key(2), Features(1, 1, 2)).ok());
  ASSERT_TRUE(cache.Lookup(Key(1)).has_value());  // 1 is now the most recent
  ASSERT_TRUE(cache.Insert(Key(3), Features(1, 1, 3)).ok());
  EXPECT_TRUE(cache.Contains(Key(1)));
  EXPECT_FALSE(cache.Contains(Key(2)));
  EXPECT_TRUE(cache.Contains(Key(3)));
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_EQ(cache.stats().entries, 2);
}

TEST(VisionCacheTest, ContainsCountsNothingAndKeepsOrder) {
  VisionCache cache(1 << 20, 2);
  ASSERT_TRUE(cache.Insert(Key(1), Features(1, 1, 1)).ok());
  ASSERT_TRUE(cache.Insert(Key(2), Features(1, 1, 2)).ok());
  EXPECT_TRUE(cache.Contains(Key(1)));  // does not refresh 1
  EXPECT_FALSE(cache.Contains(Key(9)));
  EXPECT_EQ(cache.stats().queries, 0);
  ASSERT_TRUE(cache.Insert(Key(3), Features(1, 1, 3)).ok());
  EXPECT_FALSE(cache.Contains(Key(1)));
  EXPECT_TRUE(cache.Contains(Key(2)));
}

TEST(VisionCacheTest, ByteCapacityEvictsUntilItFits) {
  // 3 entries of 64 bytes fit in 200 bytes.
  VisionCache cache(200, 100);
  for (uint64_t k = 1; k <= 3; ++k) ASSERT_TRUE(cache.Insert(Key(k), Features(4, 4, k)).ok());
  EXPECT_EQ(cache.stats().bytes, 192u);
  ASSERT_TRUE(cache.Insert(Key(4), Features(4, 4, 4)).ok());
  EXPECT_FALSE(cache.Contains(Key(1)));
  EXPECT_EQ(cache.stats().bytes, 192u);
  // 128 bytes: evicts the two least recent (2 and 3) to fit next to 4.
  ASSERT_TRUE(cache.Insert(Key(5), Features(8, 4, 5)).ok());
  EXPECT_FALSE(cache.Contains(Key(2)));
  EXPECT_FALSE(cache.Contains(Key(3)));
  EXPECT_TRUE(cache.Contains(Key(4)));
  EXPECT_TRUE(cache.Contains(Key(5)));
  EXPECT_EQ(cache.stats().bytes, 192u);
  EXPECT_EQ(cache.stats().evictions, 3);
  // Exactly the capacity fits.
  VisionCache exact(64, 1);
  ASSERT_TRUE(exact.Insert(Key(1), Features(4, 4, 1)).ok());
  EXPECT_TRUE(exact.Contains(Key(1)));
}

TEST(VisionCacheTest, OversizedEntryIsNotCached) {
  VisionCache cache(100, 10);
  ASSERT_TRUE(cache.Insert(Key(1), Features(4, 4, 1)).ok());
  ASSERT_TRUE(cache.Insert(Key(2), Features(8, 4, 2)).ok());  // 128 bytes > 100
  EXPECT_FALSE(cache.Contains(Key(2)));
  EXPECT_TRUE(cache.Contains(Key(1)));  // nothing evicted for it
  EXPECT_EQ(cache.stats().rejected, 1);
  EXPECT_EQ(cache.stats().evictions, 0);
  // Replacing key 1 by an oversized value drops the old one too.
  ASSERT_TRUE(cache.Insert(Key(1), Features(8, 4, 3)).ok());
  EXPECT_FALSE(cache.Contains(Key(1)));
  EXPECT_EQ(cache.stats().entries, 0);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(VisionCacheTest, InsertReplacesTheSameKey) {
  VisionCache cache(1 << 20, 2);
  ASSERT_TRUE(cache.Insert(Key(1), Features(1, 4, 1)).ok());
  ASSERT_TRUE(cache.Insert(Key(2), Features(1, 4, 2)).ok());
  ASSERT_TRUE(cache.Insert(Key(1), Features(2, 4, 9)).ok());  // refreshes 1
  EXPECT_EQ(cache.stats().entries, 2);
  EXPECT_EQ(cache.stats().bytes, 16u + 32u);
  EXPECT_EQ(cache.stats().evictions, 0);
  EXPECT_EQ(cache.Lookup(Key(1))->f32()[0], 9.0f);
  ASSERT_TRUE(cache.Insert(Key(3), Features(1, 4, 3)).ok());
  EXPECT_FALSE(cache.Contains(Key(2)));  // 2 was the least recent
}

TEST(VisionCacheTest, EvictedFeaturesStayValidForTheirHolder) {
  VisionCache cache(64, 1);
  ASSERT_TRUE(cache.Insert(Key(1), Features(4, 4, 7)).ok());
  std::optional<Tensor> held = cache.Lookup(Key(1));
  ASSERT_TRUE(cache.Insert(Key(2), Features(4, 4, 8)).ok());  // evicts 1
  ASSERT_FALSE(cache.Contains(Key(1)));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(held->f32()[i], 7.0f);  // ASan: no use after free
}

TEST(VisionCacheTest, ClearKeepsCounters) {
  VisionCache cache(1 << 20, 8);
  ASSERT_TRUE(cache.Insert(Key(1), Features(2, 2, 1)).ok());
  ASSERT_TRUE(cache.Lookup(Key(1)).has_value());
  cache.Clear();
  EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
  VisionCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.queries, 2);
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.evictions, 0);
  ASSERT_TRUE(cache.Insert(Key(1), Features(2, 2, 1)).ok());
  EXPECT_TRUE(cache.Contains(Key(1)));
}

TEST(VisionCacheTest, ZeroCapacityTurnsTheCacheOff) {
  for (auto [bytes, entries] : {std::pair<size_t, size_t>{0, 8}, {1 << 20, 0}}) {
    VisionCache cache(bytes, entries);
    ASSERT_TRUE(cache.Insert(Key(1), Features(2, 2, 1)).ok());
    EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
    EXPECT_EQ(cache.stats().rejected, 1);
    EXPECT_EQ(cache.stats().entries, 0);
  }
}

TEST(VisionCacheTest, EmptyFeaturesAreRejected) {
  VisionCache cache(1 << 20, 8);
  absl::Status st = cache.Insert({0xABC, 224, 448}, Tensor());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("empty features tensor for image content hash 2748 at "
                                      "224x448"));
  EXPECT_EQ(cache.stats().entries, 0);
}

// The engine's use: each question of a scene needs its six camera images encoded; the cache
// turns that into one encode per image per scene.
class SceneEncoder {
 public:
  explicit SceneEncoder(VisionCache* cache) : cache_(cache) {}
  std::vector<Tensor> Encode(const std::vector<uint64_t>& image_hashes) {
    std::vector<Tensor> out;
    for (uint64_t h : image_hashes) {
      if (std::optional<Tensor> hit = cache_->Lookup(Key(h))) {
        out.push_back(*hit);
        continue;
      }
      ++encodes_;  // the vision tower would run here
      Tensor f = Features(256, 4, static_cast<float>(h));
      EXPECT_TRUE(cache_->Insert(Key(h), f).ok());
      out.push_back(f);
    }
    return out;
  }
  int encodes() const { return encodes_; }

 private:
  VisionCache* cache_;
  int encodes_ = 0;
};

TEST(VisionCacheTest, SceneWithSixCachedImagesNeedsNoEncode) {
  const size_t per_image = 256 * 4 * 4;
  VisionCache cache(12 * per_image, 64);  // two scenes' worth
  SceneEncoder encoder(&cache);
  const std::vector<uint64_t> scene_a = {11, 12, 13, 14, 15, 16};
  for (int question = 0; question < 20; ++question) {
    std::vector<Tensor> f = encoder.Encode(scene_a);
    ASSERT_EQ(f.size(), 6u);
    EXPECT_EQ(f[3].f32()[0], 14.0f);  // the right image's features
  }
  EXPECT_EQ(encoder.encodes(), 6);  // once per image, not per question
  EXPECT_EQ(cache.stats().queries, 120);
  EXPECT_EQ(cache.stats().hits, 114);

  // All six cached: zero encodes.
  const int before = encoder.encodes();
  encoder.Encode(scene_a);
  EXPECT_EQ(encoder.encodes(), before);

  // A second scene fits beside the first; a third evicts the first, which then re-encodes.
  const std::vector<uint64_t> scene_b = {21, 22, 23, 24, 25, 26};
  const std::vector<uint64_t> scene_c = {31, 32, 33, 34, 35, 36};
  encoder.Encode(scene_b);
  EXPECT_EQ(encoder.encodes(), 12);
  encoder.Encode(scene_a);  // still cached, and now the most recent
  EXPECT_EQ(encoder.encodes(), 12);
  encoder.Encode(scene_c);  // evicts scene_b
  EXPECT_EQ(encoder.encodes(), 18);
  encoder.Encode(scene_a);
  EXPECT_EQ(encoder.encodes(), 18);
  encoder.Encode(scene_b);  // evicted: encoded again
  EXPECT_EQ(encoder.encodes(), 24);
}

TEST(VisionCacheTest, ConcurrentUseIsSafe) {
  VisionCache cache(40 * 64, 32);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      VisionCacheStats s = cache.stats();
      EXPECT_LE(s.hits, s.queries);
      EXPECT_LE(s.bytes, 40u * 64u);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const uint64_t h = (i * 7 + t) % 50;
        if (!cache.Lookup(Key(h)).has_value()) {
          EXPECT_TRUE(cache.Insert(Key(h), Features(4, 4, static_cast<float>(h))).ok());
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  stop = true;
  reader.join();
  const VisionCacheStats s = cache.stats();
  EXPECT_EQ(s.queries, 8000);
  EXPECT_LE(s.entries, 32);
  EXPECT_EQ(s.bytes, static_cast<size_t>(s.entries) * 64u);
}

}  // namespace
}  // namespace drivelm::engine
