// Tensor: a typed, shaped, contiguous row-major view of memory owned by a backend (host memory
// for the CPU backend, device memory for CUDA). Copies of a Tensor share storage; storage is
// released when the last view goes away.
#ifndef DRIVELM_ENGINE_BACKEND_TENSOR_H_
#define DRIVELM_ENGINE_BACKEND_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace drivelm::engine {

enum class DType { kF32, kF16, kBF16, kI32 };
enum class Device { kCpu, kCuda };

size_t DTypeSize(DType dtype);
const char* DTypeName(DType dtype);

using Shape = std::vector<int64_t>;
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[2, 3]"

class Tensor {
 public:
  Tensor() = default;
  // `storage` keeps the memory alive; `data` points into it.
  Tensor(std::shared_ptr<void> storage, void* data, DType dtype, Shape shape, Device device);

  bool empty() const { return data_ == nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return NumElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype_); }
  // Elements of one row of the leading dimension.
  int64_t row_elems() const {
    int64_t n = 1;
    for (size_t i = 1; i < shape_.size(); ++i) n *= shape_[i];
    return shape_.empty() ? 0 : n;
  }

  void* data() { return data_; }
  const void* data() const { return data_; }
  // Host pointers; only meaningful for Device::kCpu tensors of the matching dtype.
  float* f32() { return static_cast<float*>(data_); }
  const float* f32() const { return static_cast<const float*>(data_); }
  int32_t* i32() { return static_cast<int32_t*>(data_); }
  const int32_t* i32() const { return static_cast<const int32_t*>(data_); }

  // Rows [begin, end) of the leading dimension; shares storage.
  Tensor Rows(int64_t begin, int64_t end) const;
  // Same storage, new shape with the same number of elements.
  Tensor Reshape(Shape shape) const;
  std::string DebugString() const;  // "f32[2, 3]"

 private:
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  DType dtype_ = DType::kF32;
  Shape shape_;
  Device device_ = Device::kCpu;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_BACKEND_TENSOR_H_
