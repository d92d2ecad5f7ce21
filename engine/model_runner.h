// ModelRunner: runs a scheduler's StepPlan on the model. Owns the paged K/V pools; turns each
// scheduled chunk into a StepSequence (its token ids, positions, image feature rows, the prefix
// its queries see, its block table) and returns the logits of the chunks that sample.
//
// Threading: engine thread only (the backend is not re-entrant).
#ifndef DRIVELM_ENGINE_MODEL_RUNNER_H_
#define DRIVELM_ENGINE_MODEL_RUNNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/paged_kv_cache.h"
#include "engine/model/paligemma_model.h"
#include "engine/scheduler.h"

namespace drivelm::engine {

// What the runner needs of a sequence to compute a chunk of it.
struct RunnerSequence {
  const std::vector<int32_t>* tokens = nullptr;  // prompt + sampled ids
  int64_t prompt_len = 0;
  // The scene's image features [image_tokens, hidden] for the image tokens at the start of the
  // prompt (PaliGemma places them first).
  const Tensor* image_features = nullptr;
  int64_t image_tokens = 0;
  // Shared image prefix mode: tokens [0, image_tokens) attend only among themselves, so their
  // KV is the same for every question of the scene. Otherwise (exact) the whole prompt is one
  // bidirectional prefix.
  bool shared_image_prefix = false;
};

class ModelRunner {
 public:
  // `model` outlives the runner; the pools hold num_blocks * block_size tokens.
  ModelRunner(PaliGemmaModel* model, int64_t num_blocks, int64_t block_size);

  // Runs `plan` (copy-on-write copies first). `lookup` gives each chunk's sequence; block tables
  // come from `scheduler`. Returns logits [number of chunks with samples, vocab] in plan order,
  // or an empty tensor when no chunk samples.
  absl::StatusOr<Tensor> Run(const StepPlan& plan, const Scheduler& scheduler,
                             const std::function<const RunnerSequence&(SeqId)>& lookup);

  // FLOPs of computing tokens [begin, end) of a sequence (plus the LM head when it samples).
  double ChunkFlops(int64_t begin, int64_t end, bool samples) const;

  // The prefix length the queries of chunk [begin, end) see.
  static int64_t PrefixLen(const RunnerSequence& s, int64_t end);

  PagedKvCache& kv() { return *kv_; }

 private:
  PaliGemmaModel* model_;
  std::unique_ptr<PagedKvCache> kv_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_RUNNER_H_
