// Includes SentencePiece and never abseil: see sentencepiece_model.h.
#include "engine/tokenizer/sentencepiece_training.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <exception>
#include <mutex>
#include <unordered_map>

namespace drivelm::engine {
namespace {

// Hands `sentences` to the trainer one by one (no temporary corpus file).
class VectorSentenceIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorSentenceIterator(const std::vector<std::string>& sentences)
      : sentences_(sentences) {}
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return sentences_[index_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const std::vector<std::string>& sentences_;
  size_t index_ = 0;
};

std::mutex& TrainingMutex() {
  static std::mutex* mutex = new std::mutex;
  return *mutex;
}

}  // namespace

bool TrainSentencePiece(const std::map<std::string, std::string>& args,
                        const std::vector<std::string>& sentences, uint32_t seed,
                        std::string* serialized_model, std::string* message) {
  std::lock_guard<std::mutex> lock(TrainingMutex());
  try {
    sentencepiece::SetRandomGeneratorSeed(seed);
    const std::unordered_map<std::string, std::string> kwargs(args.begin(), args.end());
    VectorSentenceIterator iterator(sentences);
    serialized_model->clear();
    const sentencepiece::util::Status status =
        sentencepiece::SentencePieceTrainer::Train(kwargs, &iterator, serialized_model);
    if (!status.ok()) {
      *message = status.ToString();
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    *message = std::string("libsentencepiece_train threw: ") + e.what();
    return false;
  } catch (...) {
    *message = "libsentencepiece_train threw an unknown exception";
    return false;
  }
}

}  // namespace drivelm::engine
