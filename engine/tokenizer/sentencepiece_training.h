// TrainSentencePiece: the one call into libsentencepiece_train. Like sentencepiece_model.h it
// uses only the standard library, because Debian's SentencePiece headers cannot share a
// translation unit with abseil (see sentencepiece_model.h).
#ifndef DRIVELM_ENGINE_TOKENIZER_SENTENCEPIECE_TRAINING_H_
#define DRIVELM_ENGINE_TOKENIZER_SENTENCEPIECE_TRAINING_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace drivelm::engine {

// Trains a SentencePiece model on `sentences` with the trainer flags in `args` (names as in
// spm_train, e.g. {"model_type", "bpe"}), after seeding SentencePiece's global random generator
// with `seed`. On success returns true and the serialized ModelProto in `*serialized_model`; on
// failure false and libsentencepiece's message in `*message`.
//
// Threading: SentencePiece's random seed is process-global, so calls are serialized by a mutex
// inside; do not train from other code concurrently.
bool TrainSentencePiece(const std::map<std::string, std::string>& args,
                        const std::vector<std::string>& sentences, uint32_t seed,
                        std::string* serialized_model, std::string* message);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_SENTENCEPIECE_TRAINING_H_
