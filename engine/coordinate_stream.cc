#include "engine/coordinate_stream.h"

#include <utility>

namespace drivelm::engine {

std::string CoordinateStream::Append(std::string_view delta) {
  std::string text = std::move(held_);
  held_.clear();
  text.append(delta);
  // A reference contains no '<' after its first byte, so only the last '<' can start an
  // unfinished one; references before it are complete or never will be.
  const size_t open = text.rfind('<');
  if (open != std::string::npos && text.size() - open <= kMaxHeldBytes) {
    CoordinateReference ref;
    if (ScanCoordinateReference(std::string_view(text).substr(open), &ref) ==
        ReferenceScan::kIncomplete) {
      held_ = text.substr(open);
      text.resize(open);
    }
  }
  return rescaler_.ToSource(text);
}

std::string CoordinateStream::Finish() {
  std::string rest = std::move(held_);
  held_.clear();
  return rest;
}

}  // namespace drivelm::engine
