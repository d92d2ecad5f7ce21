#include "engine/backend/cpu/thread_pool.h"

#include <algorithm>

namespace drivelm::engine {
namespace {

// The pool whose loop body the current thread is running, if any: a ParallelFor on that pool
// from inside its own loop body runs inline instead of waiting for itself.
thread_local const ThreadPool* current_pool = nullptr;

// Chunks per thread: more than one so uneven chunks (causal attention rows) balance out.
constexpr int64_t kChunksPerThread = 4;

int ResolveThreads(int num_threads) {
  if (num_threads > 0) return num_threads;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(ResolveThreads(num_threads)) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 0; i + 1 < num_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunChunks(Job* job) {
  for (;;) {
    const int64_t c = job->next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (c >= job->num_chunks) return;
    const int64_t begin = c * job->chunk;
    const int64_t end = std::min(job->n, begin + job->chunk);
    try {
      (*job->fn)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(job->error_mu);
      if (!job->error) job->error = std::current_exception();
    }
    job->done_chunks.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::WorkerLoop() {
  current_pool = this;
  uint64_t seen_generation = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stop_ || (job_ != nullptr && generation_ != seen_generation);
    });
    if (stop_) return;
    seen_generation = generation_;
    Job* job = job_;
    ++active_workers_;
    lock.unlock();
    RunChunks(job);
    lock.lock();
    if (--active_workers_ == 0) done_cv_.notify_all();
  }
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                             int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (num_threads_ == 1 || n <= grain || current_pool == this) {
    fn(0, n);
    return;
  }
  const int64_t max_chunks = static_cast<int64_t>(num_threads_) * kChunksPerThread;
  const int64_t num_chunks = std::min((n + grain - 1) / grain, max_chunks);
  Job job;
  job.fn = &fn;
  job.n = n;
  job.chunk = (n + num_chunks - 1) / num_chunks;
  job.num_chunks = (n + job.chunk - 1) / job.chunk;

  std::lock_guard<std::mutex> call_lock(call_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &job;
    ++generation_;
  }
  work_cv_.notify_all();

  const ThreadPool* outer = current_pool;
  current_pool = this;
  RunChunks(&job);
  current_pool = outer;

  {
    // `job` lives on this stack frame: wait until every chunk is done and no worker still holds
    // a pointer to it, then unpublish it before returning.
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] {
      return active_workers_ == 0 &&
             job.done_chunks.load(std::memory_order_acquire) == job.num_chunks;
    });
    job_ = nullptr;
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace drivelm::engine
