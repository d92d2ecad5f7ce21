// ContentHash: a stable 64-bit fingerprint of a decoded image, the key of the vision-embedding
// cache. It hashes the decoded RGB pixels (not the encoded bytes), so two encodings of the same
// pixels share a key, and it is the same on every run, process and machine (unlike absl::Hash,
// which is seeded per process).
#ifndef DRIVELM_ENGINE_VISION_CONTENT_HASH_H_
#define DRIVELM_ENGINE_VISION_CONTENT_HASH_H_

#include <cstddef>
#include <cstdint>

#include "engine/vision/image.h"

namespace drivelm::engine {

// XXH64 (xxHash 64-bit, Yann Collet's published algorithm) of `size` bytes; little-endian reads.
uint64_t Xxh64(const void* data, size_t size, uint64_t seed);

// Xxh64(pixels, seed = width << 32 | height): the dimensions are part of the key, so images of
// different shapes with the same bytes differ.
uint64_t ContentHash(const Image& image);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_VISION_CONTENT_HASH_H_
