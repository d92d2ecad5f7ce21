// ThreadPool: a fixed set of worker threads that run data-parallel loops (ParallelFor). The CPU
// backend uses one pool for its elementwise, normalization and attention work; BLAS calls keep
// their own (OpenBLAS) threads.
//
// Threading: ParallelFor may be called from any thread. Calls from different outside threads are
// serialized (one loop runs at a time); a ParallelFor called from inside a running loop body (a
// nested loop) runs inline on the calling thread, so nesting never deadlocks. The destructor
// must not run while a ParallelFor is in progress; it joins every worker.
#ifndef DRIVELM_ENGINE_BACKEND_CPU_THREAD_POOL_H_
#define DRIVELM_ENGINE_BACKEND_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace drivelm::engine {

class ThreadPool {
 public:
  // `num_threads` is the total parallelism including the calling thread: the pool starts
  // num_threads - 1 workers, and the thread that calls ParallelFor works too. 0 means
  // std::thread::hardware_concurrency() (1 where that is unknown).
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint chunks that together cover [0, n), in parallel, and
  // returns when every chunk is done. Chunks hold at least `grain` indices (except the last),
  // so cheap per-index work can ask for bigger chunks; n <= grain (or a one-thread pool) runs
  // fn(0, n) inline. n <= 0 does nothing. If fn throws, the remaining chunks still run to
  // completion (each chunk's own exception aside) and the first exception is rethrown here.
  void ParallelFor(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn,
                   int64_t grain = 1);

 private:
  // One ParallelFor call, shared by the workers while it runs.
  struct Job {
    const std::function<void(int64_t, int64_t)>* fn = nullptr;
    int64_t n = 0;
    int64_t chunk = 0;                  // indices per chunk
    int64_t num_chunks = 0;
    std::atomic<int64_t> next_chunk{0};  // next chunk to claim
    std::atomic<int64_t> done_chunks{0};
    std::mutex error_mu;
    std::exception_ptr error;           // first exception thrown by fn, guarded by error_mu
  };

  void WorkerLoop();
  // Claims and runs chunks of `job` until none is left.
  static void RunChunks(Job* job);

  const int num_threads_;
  std::vector<std::thread> workers_;

  std::mutex call_mu_;  // serializes ParallelFor calls from outside threads

  std::mutex mu_;  // guards the fields below
  std::condition_variable work_cv_;  // workers wait here for a new job or shutdown
  std::condition_variable done_cv_;  // the caller waits here for the job's last chunk
  Job* job_ = nullptr;               // the running job, null between calls
  uint64_t generation_ = 0;          // bumped for each job, so a worker joins each job once
  int active_workers_ = 0;           // workers currently inside RunChunks for job_
  bool stop_ = false;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_BACKEND_CPU_THREAD_POOL_H_
