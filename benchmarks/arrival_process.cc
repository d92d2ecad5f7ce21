#include "benchmarks/arrival_process.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace drivelm::benchmarks {

absl::StatusOr<double> ParseRequestRate(absl::string_view text) {
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (t == "inf" || t == "infinity") return std::numeric_limits<double>::infinity();
  double rate = 0;
  if (!absl::SimpleAtod(t, &rate) || !(rate > 0) || !std::isfinite(rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request rate '", text, "' is not a positive number of requests/s or 'inf'"));
  }
  return rate;
}

absl::StatusOr<ArrivalProcess> ArrivalProcess::Create(double rate, double burstiness,
                                                      uint64_t seed) {
  if (!(rate > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--request_rate must be > 0, not ", rate));
  }
  if (!(burstiness > 0) || !std::isfinite(burstiness)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--burstiness must be a positive number, not ", burstiness));
  }
  return ArrivalProcess(rate, burstiness, seed);
}

ArrivalProcess::ArrivalProcess(double rate, double burstiness, uint64_t seed)
    : rate_(rate),
      burstiness_(burstiness),
      rng_(seed),
      gamma_(burstiness, std::isinf(rate) ? 1.0 : 1.0 / (rate * burstiness)) {}

double ArrivalProcess::NextGapS() {
  if (std::isinf(rate_)) return 0;
  return gamma_(rng_);
}

}  // namespace drivelm::benchmarks
