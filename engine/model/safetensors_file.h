// SafetensorsFile: one .safetensors file, memory-mapped, its header parsed and checked.
//
// Format: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data area; offsets are relative to the start of the data area. `__metadata__` is
// ignored. Open() rejects, with InvalidArgument naming the file (and the tensor where there is
// one): a header length beyond the file, a header that is not a JSON object, an unknown dtype,
// a negative or non-integer dimension, offsets outside the data area or not matching
// shape * dtype size, and tensors whose bytes overlap. Gaps between tensors are allowed.
//
// Ownership: the file owns its mapping; tensor data pointers stay valid while it lives.
// Thread-safety: immutable after Open().
#ifndef DRIVELM_ENGINE_MODEL_SAFETENSORS_FILE_H_
#define DRIVELM_ENGINE_MODEL_SAFETENSORS_FILE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/tensor.h"
#include "engine/model/mapped_file.h"
#include "engine/model/safetensors_dtype.h"

namespace drivelm::engine {

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype;
  Shape shape;
  // Inside the mapping. Aligned to the element size when the writer padded the header to
  // 8 bytes (the Python library and SafetensorsWriter do); other writers may not.
  const void* data;
  size_t nbytes;
};

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return mapping_->path(); }
  // Sorted by name.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // nullptr when absent.
  const SafetensorsTensor* Find(std::string_view name) const;

 private:
  SafetensorsFile(std::unique_ptr<MappedFile> mapping, std::vector<SafetensorsTensor> tensors)
      : mapping_(std::move(mapping)), tensors_(std::move(tensors)) {}

  std::unique_ptr<MappedFile> mapping_;
  std::vector<SafetensorsTensor> tensors_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_SAFETENSORS_FILE_H_
