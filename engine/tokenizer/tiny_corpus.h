// DefaultTinyCorpus: a built-in English driving-domain corpus for training the tiny tokenizer,
// so the tiny-model tool depends on no data files.
#ifndef DRIVELM_ENGINE_TOKENIZER_TINY_CORPUS_H_
#define DRIVELM_ENGINE_TOKENIZER_TINY_CORPUS_H_

#include <string>
#include <vector>

namespace drivelm::engine {

// About 700 sentences about cars, pedestrians, lanes and cameras: DriveLM-style questions and
// answers with object references like "<c1,CAM_FRONT,1088.3,497.5>", numbers, units and
// punctuation, the DriveVLMs six-camera prompt (with its '\n'), and a few lines with non-ASCII
// words (CJK, accents, arrows) so that multi-byte characters become pieces too. The same lines
// every time (a fixed-seed generator of its own, no <random> distributions).
std::vector<std::string> DefaultTinyCorpus();

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_TINY_CORPUS_H_
