// CoordinateRescaler: moves DriveLM object references `<c1,CAM_FRONT,1088.3,497.5>` between the
// camera's pixel space (nuScenes: 1600x900) and the space a checkpoint was trained in (DriveVLMs'
// PaliGemma: 224x224). Questions go in with ToModel; answers come back out with ToSource.
// Only the `<cN,CAM_NAME,x,y>` form is touched; anything malformed is left exactly as it was.
#ifndef DRIVELM_ENGINE_COORDINATE_RESCALER_H_
#define DRIVELM_ENGINE_COORDINATE_RESCALER_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace drivelm::engine {

// The profile's `coordinates:` block.
struct CoordinateSpace {
  int source_width = 1600;  // camera pixels (nuScenes)
  int source_height = 900;
  int model_width = 224;  // the checkpoint's training space
  int model_height = 224;
  int decimals = 1;  // digits after the point when writing a coordinate (DriveLM: 1)
};

// InvalidArgument naming the field: sizes must be > 0, decimals in [0, 6].
absl::Status ValidateCoordinateSpace(const CoordinateSpace& space);

// One parsed reference.
struct CoordinateReference {
  size_t length = 0;      // bytes of the whole `<...>`
  std::string_view head;  // `<c1,CAM_FRONT,`: kept verbatim
  double x = 0.0;
  double y = 0.0;
};

enum class ReferenceScan {
  kMatch,       // `text` starts with a complete reference, described in *ref
  kIncomplete,  // `text` is a proper prefix of some reference: more text could complete it
  kNoMatch,     // no text appended to `text` can make it start with a reference
};

// Scans the start of `text` for `<c` digits `,` [A-Za-z0-9_]+ `,` number `,` number `>`, where a
// number is `-`? digits (`.` digits)?. No spaces.
ReferenceScan ScanCoordinateReference(std::string_view text, CoordinateReference* ref);

// Immutable after Create; safe to share between threads.
class CoordinateRescaler {
 public:
  static absl::StatusOr<CoordinateRescaler> Create(const CoordinateSpace& space);

  // Camera pixels -> model space (x * model_width / source_width, likewise y), for questions.
  std::string ToModel(std::string_view text) const;
  // Model space -> camera pixels, for answers.
  std::string ToSource(std::string_view text) const;

  const CoordinateSpace& space() const { return space_; }

 private:
  explicit CoordinateRescaler(const CoordinateSpace& space) : space_(space) {}
  std::string Rescale(std::string_view text, double scale_x, double scale_y) const;
  std::string Format(double value) const;

  CoordinateSpace space_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_COORDINATE_RESCALER_H_
