// VisionCache: an LRU cache of encoded image features (the vision tower + projector output of one
// image), so that a scene's camera images are encoded once whatever the number of its questions,
// and again only after eviction.
//
// Key: the image's content hash (engine/vision/content_hash.h, over the decoded pixels) plus the
// model's image size (the processor's output height and width), so that two processors that see
// the same picture never share features.
//
// Values are engine::Tensor held by value: copies share storage, so a Lookup hands out a view
// that stays valid after eviction (the storage is freed when the last view goes). The bytes
// counted against the capacity are Tensor::nbytes() of each cached entry, on whatever device the
// tensor lives.
//
// Threading: thread-safe (one absl::Mutex). The engine thread looks up and inserts; the server
// may read stats() from another thread. Tensors dropped by eviction or Clear are released after
// the lock is let go, so a slow device free never blocks a stats() reader.
#ifndef DRIVELM_ENGINE_CACHE_VISION_CACHE_H_
#define DRIVELM_ENGINE_CACHE_VISION_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/backend/tensor.h"

namespace drivelm::engine {

struct VisionCacheKey {
  uint64_t content_hash = 0;  // ContentHash(decoded image)
  int32_t height = 0;         // the model's image size: the processor's output
  int32_t width = 0;

  friend bool operator==(const VisionCacheKey& a, const VisionCacheKey& b) {
    return a.content_hash == b.content_hash && a.height == b.height && a.width == b.width;
  }
  friend bool operator!=(const VisionCacheKey& a, const VisionCacheKey& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const VisionCacheKey& k) {
    return H::combine(std::move(h), k.content_hash, k.height, k.width);
  }
};

struct VisionCacheStats {
  // Monotonic since construction (Clear keeps them): drivelm_vision_cache_{queries,hits}_total.
  int64_t queries = 0;     // Lookup calls
  int64_t hits = 0;        // Lookup calls that found the key
  int64_t insertions = 0;  // entries cached by Insert
  int64_t evictions = 0;   // entries dropped to make room (not by Clear or replacement)
  int64_t rejected = 0;    // Insert calls not cached: larger than the capacity, or cache off
  // Current contents.
  int64_t entries = 0;
  size_t bytes = 0;  // sum of nbytes() of cached entries
};

class VisionCache {
 public:
  // At most `capacity_bytes` of features in at most `max_entries` entries; either 0 turns the
  // cache off (every Lookup misses, nothing is stored), for runs without the cache.
  VisionCache(size_t capacity_bytes, size_t max_entries);

  VisionCache(const VisionCache&) = delete;
  VisionCache& operator=(const VisionCache&) = delete;

  // The cached features for `key` ([tokens_per_image, hidden], sharing storage with the cache),
  // marked most recently used; nullopt on a miss. Counts a query, and a hit when found.
  std::optional<Tensor> Lookup(const VisionCacheKey& key);

  // Whether `key` is cached; counts nothing and leaves the LRU order alone (for planning).
  bool Contains(const VisionCacheKey& key) const;

  // Caches `features` under `key` as the most recently used entry, replacing an entry with the
  // same key, and evicts least recently used entries until both capacities hold. Features larger
  // than capacity_bytes are not cached (counted as rejected; an old entry under the key is
  // dropped). InvalidArgument for an empty tensor.
  absl::Status Insert(const VisionCacheKey& key, Tensor features);

  // Drops every entry; counters are kept.
  void Clear();

  VisionCacheStats stats() const;
  size_t capacity_bytes() const { return capacity_bytes_; }
  size_t max_entries() const { return max_entries_; }

 private:
  struct Entry {
    VisionCacheKey key;
    Tensor features;  // [tokens_per_image, hidden]
  };
  using EntryList = std::list<Entry>;  // front = most recently used

  // Unlinks `it` into `dropped` (released by the caller after unlocking).
  void EraseLocked(EntryList::iterator it, std::list<Entry>& dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_bytes_;
  const size_t max_entries_;

  mutable absl::Mutex mu_;
  EntryList lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<VisionCacheKey, EntryList::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  VisionCacheStats stats_ ABSL_GUARDED_BY(mu_);  // entries/bytes filled in by stats()
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_CACHE_VISION_CACHE_H_
