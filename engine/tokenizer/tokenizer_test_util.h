// Test helpers for engine/tokenizer: paths of test data and temp files, and tokenizers trained
// or loaded once per test binary.
#ifndef DRIVELM_ENGINE_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define DRIVELM_ENGINE_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace drivelm::engine {

// $TEST_SRCDIR/$TEST_WORKSPACE/engine/tokenizer/testdata/`file`.
std::string TokenizerTestDataPath(const std::string& file);
// $TEST_TMPDIR/`name` (or /tmp/`name` outside Bazel).
std::string TestTempPath(const std::string& name);
// Reads a whole file; empty when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// The committed tiny tokenizer (testdata/tokenizer.model), loaded once. Aborts the test binary
// with a message when it cannot be loaded (a broken checkout, not a product error).
const Tokenizer& CommittedTestTokenizer();
// A tokenizer trained at test time on DefaultTinyCorpus() (2048 pieces) into TEST_TMPDIR.
const Tokenizer& TrainedTestTokenizer();

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_TOKENIZER_TEST_UTIL_H_
