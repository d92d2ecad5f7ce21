// ArrivalProcess: the gaps between request arrivals of an open-loop load test, as
// `vllm bench serve` draws them: gamma-distributed with shape = burstiness and
// scale = 1 / (rate * burstiness), so the mean gap is 1 / rate for any burstiness; burstiness 1
// is a Poisson process (exponential gaps), below 1 burstier, above 1 more regular. An infinite
// rate sends everything at once (every gap 0).
//
// Not thread-safe (one dispatcher draws from it).
#ifndef DRIVELM_BENCHMARKS_ARRIVAL_PROCESS_H_
#define DRIVELM_BENCHMARKS_ARRIVAL_PROCESS_H_

#include <cstdint>
#include <random>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drivelm::benchmarks {

// "inf" (any case) -> infinity; a positive number; InvalidArgument otherwise.
absl::StatusOr<double> ParseRequestRate(absl::string_view text);

class ArrivalProcess {
 public:
  // `rate` requests per second (> 0, may be infinite); `burstiness` > 0. InvalidArgument naming
  // the value otherwise. The same seed gives the same gaps.
  static absl::StatusOr<ArrivalProcess> Create(double rate, double burstiness, uint64_t seed);

  // The next gap in seconds (0 for an infinite rate).
  double NextGapS();

  double rate() const { return rate_; }
  double burstiness() const { return burstiness_; }

 private:
  ArrivalProcess(double rate, double burstiness, uint64_t seed);

  double rate_;
  double burstiness_;
  std::mt19937_64 rng_;
  std::gamma_distribution<double> gamma_;
};

}  // namespace drivelm::benchmarks

#endif  // DRIVELM_BENCHMARKS_ARRIVAL_PROCESS_H_
