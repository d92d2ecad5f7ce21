// MappedFile: a whole file mapped read-only into memory (RAII: unmapped on destruction).
//
// Thread-safety: immutable after Open(); the bytes may be read from any thread.
#ifndef DRIVELM_ENGINE_MODEL_MAPPED_FILE_H_
#define DRIVELM_ENGINE_MODEL_MAPPED_FILE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace drivelm::engine {

class MappedFile {
 public:
  // NotFound when `path` does not exist; InvalidArgument when it is not a regular file.
  // An empty file opens with size() == 0 and data() == nullptr (nothing to map).
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile(std::string path, const unsigned char* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const unsigned char* data_;  // page-aligned; nullptr when size_ == 0
  size_t size_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_MAPPED_FILE_H_
