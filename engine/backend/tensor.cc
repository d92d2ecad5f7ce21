#include "engine/backend/tensor.h"

#include <cassert>
#include <sstream>
#include <utility>

namespace drivelm::engine {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kI32:
      return 4;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kI32:
      return "i32";
  }
  return "?";
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

Tensor::Tensor(std::shared_ptr<void> storage, void* data, DType dtype, Shape shape, Device device)
    : storage_(std::move(storage)), data_(data), dtype_(dtype), shape_(std::move(shape)),
      device_(device) {}

Tensor Tensor::Rows(int64_t begin, int64_t end) const {
  assert(rank() >= 1 && begin >= 0 && begin <= end && end <= shape_[0]);
  Shape s = shape_;
  s[0] = end - begin;
  char* base = static_cast<char*>(data_) + static_cast<size_t>(begin * row_elems()) * DTypeSize(dtype_);
  return Tensor(storage_, base, dtype_, std::move(s), device_);
}

Tensor Tensor::Reshape(Shape shape) const {
  assert(NumElements(shape) == numel());
  return Tensor(storage_, data_, dtype_, std::move(shape), device_);
}

std::string Tensor::DebugString() const { return std::string(DTypeName(dtype_)) + ShapeToString(shape_); }

}  // namespace drivelm::engine
