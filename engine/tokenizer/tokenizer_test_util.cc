#include "engine/tokenizer/tokenizer_test_util.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/tokenizer/tiny_corpus.h"
#include "engine/tokenizer/tokenizer_trainer.h"

namespace drivelm::engine {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

const Tokenizer& LoadOrDie(const std::string& path) {
  auto tokenizer = Tokenizer::Load(path);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "cannot load test tokenizer %s: %s\n", path.c_str(),
                 tokenizer.status().ToString().c_str());
    std::abort();
  }
  return *tokenizer->release();
}

}  // namespace

std::string TokenizerTestDataPath(const std::string& file) {
  return EnvOr("TEST_SRCDIR", ".") + "/" + EnvOr("TEST_WORKSPACE", "drivelm_serve") +
         "/engine/tokenizer/testdata/" + file;
}

std::string TestTempPath(const std::string& name) {
  return EnvOr("TEST_TMPDIR", "/tmp") + "/" + name;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

const Tokenizer& CommittedTestTokenizer() {
  static const Tokenizer& tokenizer = LoadOrDie(TokenizerTestDataPath("tokenizer.model"));
  return tokenizer;
}

const Tokenizer& TrainedTestTokenizer() {
  static const Tokenizer& tokenizer = [] () -> const Tokenizer& {
    const std::string path = TestTempPath("trained_tokenizer.model");
    const absl::Status status = TrainTinyTokenizer(DefaultTinyCorpus(), 2048, path, /*seed=*/7);
    if (!status.ok()) {
      std::fprintf(stderr, "cannot train the test tokenizer: %s\n", status.ToString().c_str());
      std::abort();
    }
    return LoadOrDie(path);
  }();
  return tokenizer;
}

}  // namespace drivelm::engine
