#include "engine/cache/vision_cache.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace drivelm::engine {

VisionCache::VisionCache(size_t capacity_bytes, size_t max_entries)
    : capacity_bytes_(capacity_bytes), max_entries_(max_entries) {}

std::optional<Tensor> VisionCache::Lookup(const VisionCacheKey& key) {
  absl::MutexLock lock(&mu_);
  ++stats_.queries;
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);  // iterators stay valid
  return it->second->features;
}

bool VisionCache::Contains(const VisionCacheKey& key) const {
  absl::MutexLock lock(&mu_);
  return index_.contains(key);
}

void VisionCache::EraseLocked(EntryList::iterator it, std::list<Entry>& dropped) {
  bytes_ -= it->features.nbytes();
  index_.erase(it->key);
  dropped.splice(dropped.end(), lru_, it);
}

absl::Status VisionCache::Insert(const VisionCacheKey& key, Tensor features) {
  if (features.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VisionCache::Insert: empty features tensor for image content hash ", key.content_hash,
        " at ", key.height, "x", key.width));
  }
  const size_t nbytes = features.nbytes();
  std::list<Entry> dropped;  // destroyed after the lock is released (declared first)
  absl::MutexLock lock(&mu_);
  if (auto it = index_.find(key); it != index_.end()) EraseLocked(it->second, dropped);
  if (max_entries_ == 0 || nbytes > capacity_bytes_) {
    ++stats_.rejected;
    return absl::OkStatus();
  }
  while (!lru_.empty() && (bytes_ + nbytes > capacity_bytes_ || lru_.size() >= max_entries_)) {
    EraseLocked(std::prev(lru_.end()), dropped);
    ++stats_.evictions;
  }
  lru_.push_front(Entry{key, std::move(features)});
  index_[key] = lru_.begin();
  bytes_ += nbytes;
  ++stats_.insertions;
  return absl::OkStatus();
}

void VisionCache::Clear() {
  std::list<Entry> dropped;
  absl::MutexLock lock(&mu_);
  dropped.swap(lru_);
  index_.clear();
  bytes_ = 0;
}

VisionCacheStats VisionCache::stats() const {
  absl::MutexLock lock(&mu_);
  VisionCacheStats s = stats_;
  s.entries = static_cast<int64_t>(lru_.size());
  s.bytes = bytes_;
  return s;
}

}  // namespace drivelm::engine
