#include "engine/model_runner.h"

#include <algorithm>

namespace drivelm::engine {

ModelRunner::ModelRunner(PaliGemmaModel* model, int64_t num_blocks, int64_t block_size)
    : model_(model), kv_(model->NewPagedCache(num_blocks, block_size)) {}

int64_t ModelRunner::PrefixLen(const RunnerSequence& s, int64_t end) {
  if (s.shared_image_prefix && end <= s.image_tokens) return s.image_tokens;
  return s.prompt_len;
}

double ModelRunner::ChunkFlops(int64_t begin, int64_t end, bool samples) const {
  return model_->ChunkFlops(end - begin, begin, samples);
}

absl::StatusOr<Tensor> ModelRunner::Run(
    const StepPlan& plan, const Scheduler& scheduler,
    const std::function<const RunnerSequence&(SeqId)>& lookup) {
  Backend* backend = model_->backend();
  const int64_t bs = kv_->block_size();
  // Copy-on-write: a shared partial block is duplicated before the forward writes into it.
  for (const BlockCopy& c : plan.copies) {
    std::vector<int64_t> src, dst;
    for (int32_t i = 0; i < c.num_tokens; ++i) {
      src.push_back(static_cast<int64_t>(c.src) * bs + i);
      dst.push_back(static_cast<int64_t>(c.dst) * bs + i);
    }
    for (int64_t layer = 0; layer < model_->config().text.num_hidden_layers; ++layer) {
      for (Tensor* pool : {&kv_->k(layer), &kv_->v(layer)}) {
        Tensor rows = backend->Empty(pool->dtype(), {c.num_tokens, pool->dim(1), pool->dim(2)});
        backend->GatherRows(*pool, src, &rows);
        backend->ScatterRows(rows, dst, pool);
      }
    }
  }
  std::vector<StepSequence> step;
  step.reserve(plan.chunks.size());
  for (const ScheduledChunk& c : plan.chunks) {
    const RunnerSequence& s = lookup(c.id);
    StepSequence q;
    q.ids = absl::MakeConstSpan(*s.tokens).subspan(c.begin, c.end - c.begin);
    q.past = c.begin;
    q.prefix_len = PrefixLen(s, c.end);
    q.image_features = s.image_features;
    q.image_tokens = s.image_tokens;
    q.block_table = scheduler.BlockTable(c.id);
    q.want_logits = c.samples;
    step.push_back(q);
  }
  return model_->Step(step, kv_.get());
}

}  // namespace drivelm::engine
