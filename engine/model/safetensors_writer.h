// SafetensorsWriter: collects named tensors and writes them as a .safetensors file that the
// Python `safetensors` library reads. Like that library it pads the JSON header with spaces to a
// multiple of 8 bytes and stores tensors by dtype (larger elements first), then name, so every
// tensor's data is aligned to its element size and the bytes match what the library writes.
//
// Ownership: Add() copies the bytes. Thread-safety: none (one thread builds and writes).
#ifndef DRIVELM_ENGINE_MODEL_SAFETENSORS_WRITER_H_
#define DRIVELM_ENGINE_MODEL_SAFETENSORS_WRITER_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/tensor.h"
#include "engine/model/safetensors_dtype.h"

namespace drivelm::engine {

class SafetensorsWriter {
 public:
  // InvalidArgument for an empty, duplicate or reserved ("__metadata__") name, a negative
  // dimension, or `nbytes` != elements * dtype size.
  absl::Status Add(const std::string& name, SafetensorsDType dtype, const Shape& shape, const void* data,
                   size_t nbytes);
  absl::Status AddF32(const std::string& name, const Shape& shape, const std::vector<float>& values);
  // Written as the header's "__metadata__" (string -> string).
  void SetMetadata(const std::string& key, const std::string& value);

  // Writes the file (replacing any); errors name the path.
  absl::Status WriteFile(const std::string& path) const;
  // The whole file's bytes.
  std::string Serialize() const;

 private:
  struct Pending {
    SafetensorsDType dtype;
    Shape shape;
    std::string bytes;
  };
  // The padded header (with its 8-byte length prefix) and the tensors in file order.
  std::string Header(std::vector<const std::pair<const std::string, Pending>*>* order) const;

  std::map<std::string, Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_SAFETENSORS_WRITER_H_
