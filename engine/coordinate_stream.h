// CoordinateStream: CoordinateRescaler::ToSource for text that arrives in pieces (streamed answer
// deltas). A reference is usually split over several tokens, so a trailing piece that may still
// become a reference is held back until it completes or turns out not to be one.
#ifndef DRIVELM_ENGINE_COORDINATE_STREAM_H_
#define DRIVELM_ENGINE_COORDINATE_STREAM_H_

#include <string>
#include <string_view>

#include "engine/coordinate_rescaler.h"

namespace drivelm::engine {

// One per streamed answer, used by one thread at a time. Copyable.
class CoordinateStream {
 public:
  // A held piece longer than this is not a plausible reference and is let through untouched;
  // it bounds how long a stream can stall on digits.
  static constexpr size_t kMaxHeldBytes = 96;

  explicit CoordinateStream(const CoordinateRescaler& rescaler) : rescaler_(rescaler) {}

  // Appends `delta` (model space); returns the text now safe to emit, in camera pixels.
  std::string Append(std::string_view delta);
  // End of the answer: returns whatever was held (an unfinished reference, untouched).
  std::string Finish();

 private:
  CoordinateRescaler rescaler_;
  std::string held_;  // a possible reference start: '<' and what followed it
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_COORDINATE_STREAM_H_
