// Writes the tiny Gemma-like tokenizer.model trained on DefaultTinyCorpus().
//   bazel run //engine/tokenizer:train_tiny_tokenizer -- --out=/abs/path/tokenizer.model
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "engine/tokenizer/tiny_corpus.h"
#include "engine/tokenizer/tokenizer_trainer.h"

ABSL_FLAG(std::string, out, "", "where to write tokenizer.model (absolute path)");
ABSL_FLAG(int, vocab_size, 2048, "number of pieces of the model");
ABSL_FLAG(uint64_t, seed, 0, "SentencePiece random seed");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "--out is required\n");
    return 2;
  }
  const absl::Status status = drivelm::engine::TrainTinyTokenizer(
      drivelm::engine::DefaultTinyCorpus(), absl::GetFlag(FLAGS_vocab_size), out,
      absl::GetFlag(FLAGS_seed));
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
