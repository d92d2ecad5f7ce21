// Helpers shared by the device-side drivers kernel_check.cu and kernel_bench.cu (built without
// Bazel on the GPU machine: CUDA and the C++ standard library only).
#ifndef DRIVELM_BENCHMARKS_GPU_DEVICE_UTIL_H_
#define DRIVELM_BENCHMARKS_GPU_DEVICE_UTIL_H_

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace drivelm::gpu {

// Every CUDA call is checked; a failure names the call and exits (these are test drivers).
#define DEVICE_CHECK(call)                                                                   \
  do {                                                                                       \
    const cudaError_t err_ = (call);                                                         \
    if (err_ != cudaSuccess) {                                                               \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,              \
                   cudaGetErrorString(err_));                                                \
      std::exit(2);                                                                          \
    }                                                                                        \
  } while (0)

// The kernels' host API returns "" or the error text; a launch is also followed by a
// synchronization so an asynchronous fault is attributed to the kernel that caused it.
#define KERNEL_CHECK(call)                                                                   \
  do {                                                                                       \
    const std::string kerr_ = (call);                                                        \
    if (!kerr_.empty()) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,              \
                   kerr_.c_str());                                                           \
      std::exit(2);                                                                          \
    }                                                                                        \
    DEVICE_CHECK(cudaDeviceSynchronize());                                                   \
  } while (0)

// A device array that owns its memory.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    DEVICE_CHECK(cudaMalloc(&p_, (n > 0 ? n : 1) * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    if (!host.empty()) {
      DEVICE_CHECK(cudaMemcpy(p_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
  }
  ~DeviceArray() { cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() { return p_; }
  const T* get() const { return p_; }
  size_t size() const { return n_; }
  // All bytes 0xff: NaN for floats, -1 for integers. An element a kernel fails to write stays so.
  void Poison() { DEVICE_CHECK(cudaMemset(p_, 0xff, (n_ > 0 ? n_ : 1) * sizeof(T))); }
  std::vector<T> Get() const {
    std::vector<T> host(n_);
    DEVICE_CHECK(cudaDeviceSynchronize());
    if (n_ > 0) DEVICE_CHECK(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace drivelm::gpu

#endif  // DRIVELM_BENCHMARKS_GPU_DEVICE_UTIL_H_
