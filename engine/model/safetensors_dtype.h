// SafetensorsDType: the element types of a .safetensors file that this engine reads, and how
// they map to the engine's DType.
#ifndef DRIVELM_ENGINE_MODEL_SAFETENSORS_DTYPE_H_
#define DRIVELM_ENGINE_MODEL_SAFETENSORS_DTYPE_H_

#include <cstddef>
#include <optional>
#include <string_view>

#include "engine/backend/tensor.h"

namespace drivelm::engine {

// I64 is read (checkpoints may hold int64 buffers) but has no engine DType.
enum class SafetensorsDType { kF32, kF16, kBF16, kI32, kI64 };

// The header spelling: "F32", "F16", "BF16", "I32", "I64".
const char* SafetensorsDTypeName(SafetensorsDType dtype);
size_t SafetensorsDTypeSize(SafetensorsDType dtype);
// nullopt for a spelling this engine does not read.
std::optional<SafetensorsDType> ParseSafetensorsDType(std::string_view name);
// nullopt for I64.
std::optional<DType> ToEngineDType(SafetensorsDType dtype);
SafetensorsDType FromEngineDType(DType dtype);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_SAFETENSORS_DTYPE_H_
