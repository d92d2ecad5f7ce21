#include "benchmarks/bench_model_dir.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace drivelm::benchmarks {

absl::StatusOr<std::unique_ptr<BenchModelDir>> BenchModelDir::Create(const std::string& keep_dir,
                                                                      const std::string& tag) {
  if (!keep_dir.empty()) return std::unique_ptr<BenchModelDir>(new BenchModelDir(keep_dir, true));
  const char* base = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(base && *base ? base : "/tmp", "/", tag, "_XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return absl::InternalError("cannot create a temp directory");
  }
  return std::unique_ptr<BenchModelDir>(new BenchModelDir(buf.data(), false));
}

BenchModelDir::~BenchModelDir() {
  if (kept_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace drivelm::benchmarks
