#include "engine/model/safetensors_dtype.h"

namespace drivelm::engine {

const char* SafetensorsDTypeName(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF32:
      return "F32";
    case SafetensorsDType::kF16:
      return "F16";
    case SafetensorsDType::kBF16:
      return "BF16";
    case SafetensorsDType::kI32:
      return "I32";
    case SafetensorsDType::kI64:
      return "I64";
  }
  return "?";
}

size_t SafetensorsDTypeSize(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF32:
      return 4;
    case SafetensorsDType::kF16:
      return 2;
    case SafetensorsDType::kBF16:
      return 2;
    case SafetensorsDType::kI32:
      return 4;
    case SafetensorsDType::kI64:
      return 8;
  }
  return 0;
}

std::optional<SafetensorsDType> ParseSafetensorsDType(std::string_view name) {
  for (SafetensorsDType d : {SafetensorsDType::kF32, SafetensorsDType::kF16, SafetensorsDType::kBF16,
                             SafetensorsDType::kI32, SafetensorsDType::kI64}) {
    if (name == SafetensorsDTypeName(d)) return d;
  }
  return std::nullopt;
}

std::optional<DType> ToEngineDType(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF32:
      return DType::kF32;
    case SafetensorsDType::kF16:
      return DType::kF16;
    case SafetensorsDType::kBF16:
      return DType::kBF16;
    case SafetensorsDType::kI32:
      return DType::kI32;
    case SafetensorsDType::kI64:
      return std::nullopt;
  }
  return std::nullopt;
}

SafetensorsDType FromEngineDType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return SafetensorsDType::kF32;
    case DType::kF16:
      return SafetensorsDType::kF16;
    case DType::kBF16:
      return SafetensorsDType::kBF16;
    case DType::kI32:
      return SafetensorsDType::kI32;
  }
  return SafetensorsDType::kF32;
}

}  // namespace drivelm::engine
