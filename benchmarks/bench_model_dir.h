// BenchModelDir: where a benchmark writes its generated checkpoint: the --model_out directory
// when one is given (kept), else a fresh directory under $TMPDIR, removed with this object.
#ifndef DRIVELM_BENCHMARKS_BENCH_MODEL_DIR_H_
#define DRIVELM_BENCHMARKS_BENCH_MODEL_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace drivelm::benchmarks {

class BenchModelDir {
 public:
  // `keep_dir` empty: a temporary directory named after `tag`.
  static absl::StatusOr<std::unique_ptr<BenchModelDir>> Create(const std::string& keep_dir,
                                                                const std::string& tag);
  ~BenchModelDir();
  BenchModelDir(const BenchModelDir&) = delete;
  BenchModelDir& operator=(const BenchModelDir&) = delete;

  const std::string& path() const { return path_; }
  bool kept() const { return kept_; }

 private:
  BenchModelDir(std::string path, bool kept) : path_(std::move(path)), kept_(kept) {}
  std::string path_;
  bool kept_;
};

}  // namespace drivelm::benchmarks

#endif  // DRIVELM_BENCHMARKS_BENCH_MODEL_DIR_H_
