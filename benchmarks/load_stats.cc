#include "benchmarks/load_stats.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace drivelm::benchmarks {

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = static_cast<size_t>(std::ceil(rank));
  return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

Distribution Summarize(const std::vector<double>& values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - d.mean) * (v - d.mean);
  d.std = std::sqrt(squares / static_cast<double>(values.size()));
  d.median = Percentile(values, 50);
  d.p90 = Percentile(values, 90);
  d.p99 = Percentile(values, 99);
  return d;
}

double QuestionTiming::TtftS() const { return delta_s.empty() ? done_s : delta_s.front(); }

std::optional<double> QuestionTiming::TpotS() const {
  if (generated_tokens <= 1) return std::nullopt;
  return (E2eS() - TtftS()) / static_cast<double>(generated_tokens - 1);
}

std::vector<double> QuestionTiming::ItlS() const {
  std::vector<double> gaps;
  for (size_t i = 1; i < delta_s.size(); ++i) gaps.push_back(delta_s[i] - delta_s[i - 1]);
  return gaps;
}

bool RequestTiming::ok() const {
  if (rpc_code != 0 || questions.empty()) return false;
  for (const QuestionTiming& q : questions) {
    if (!q.ok) return false;
  }
  return true;
}

absl::StatusOr<Slo> ParseSlo(absl::string_view spec) {
  Slo slo;
  if (absl::StripAsciiWhitespace(spec).empty()) return slo;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const size_t eq = part.find('=');
    const absl::string_view key = eq == absl::string_view::npos ? part : part.substr(0, eq);
    double value = 0;
    if (eq == absl::string_view::npos || !absl::SimpleAtod(part.substr(eq + 1), &value) ||
        !(value > 0) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--slo: '", part, "' is not KEY=MILLISECONDS with a positive number (e.g. ttft=500)"));
    }
    std::optional<double>* slot = key == "ttft"                   ? &slo.ttft_ms
                                  : key == "tpot"                 ? &slo.tpot_ms
                                  : key == "e2e" || key == "e2el" ? &slo.e2e_ms
                                                                  : nullptr;
    if (slot == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--slo: unknown key '", key, "' (expected ttft, tpot, e2e)"));
    }
    if (slot->has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("--slo: '", key, "' given twice"));
    }
    *slot = value;
  }
  return slo;
}

bool MeetsSlo(const QuestionTiming& question, const Slo& slo) {
  if (!question.ok) return false;
  if (slo.ttft_ms && question.TtftS() * 1e3 > *slo.ttft_ms) return false;
  if (slo.tpot_ms && question.TpotS().value_or(0) * 1e3 > *slo.tpot_ms) return false;
  if (slo.e2e_ms && question.E2eS() * 1e3 > *slo.e2e_ms) return false;
  return true;
}

bool MeetsSlo(const RequestTiming& request, const Slo& slo) {
  if (!request.ok()) return false;
  for (const QuestionTiming& q : request.questions) {
    if (!MeetsSlo(q, slo)) return false;
  }
  return true;
}

LoadMetrics ComputeLoadMetrics(const std::vector<RequestTiming>& requests, double duration_s,
                               const Slo& slo) {
  LoadMetrics m;
  m.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el, scene_e2el;
  int64_t good_requests = 0, good_questions = 0;
  for (const RequestTiming& r : requests) {
    if (r.ok()) {
      ++m.completed;
      scene_e2el.push_back((r.end_s - r.send_s) * 1e3);
      if (MeetsSlo(r, slo)) ++good_requests;
    } else {
      ++m.failed;
      ++m.request_errors[r.rpc_code];
    }
    for (const QuestionTiming& q : r.questions) {
      if (!q.ok) {
        ++m.failed_questions;
        ++m.question_errors[q.status_code];
        continue;
      }
      ++m.completed_questions;
      if (MeetsSlo(q, slo)) ++good_questions;
      m.total_input_tokens += q.prompt_tokens;
      m.total_output_tokens += q.generated_tokens;
      ttft.push_back(q.TtftS() * 1e3);
      e2el.push_back(q.E2eS() * 1e3);
      if (std::optional<double> t = q.TpotS()) tpot.push_back(*t * 1e3);
      for (double gap : q.ItlS()) itl.push_back(gap * 1e3);
    }
  }
  const auto rate = [duration_s](double count) {
    return duration_s > 0 ? count / duration_s : 0.0;
  };
  m.request_throughput = rate(static_cast<double>(m.completed));
  m.question_throughput = rate(static_cast<double>(m.completed_questions));
  m.output_throughput = rate(static_cast<double>(m.total_output_tokens));
  m.total_token_throughput =
      rate(static_cast<double>(m.total_input_tokens + m.total_output_tokens));
  if (!slo.empty()) {
    m.request_goodput = rate(static_cast<double>(good_requests));
    m.question_goodput = rate(static_cast<double>(good_questions));
  }
  m.ttft_ms = Summarize(ttft);
  m.tpot_ms = Summarize(tpot);
  m.itl_ms = Summarize(itl);
  m.e2el_ms = Summarize(e2el);
  m.scene_e2el_ms = Summarize(scene_e2el);
  return m;
}

namespace {

void PutDistribution(const std::string& name, const Distribution& d, nlohmann::json* out) {
  (*out)[absl::StrCat("mean_", name, "_ms")] = d.mean;
  (*out)[absl::StrCat("median_", name, "_ms")] = d.median;
  (*out)[absl::StrCat("std_", name, "_ms")] = d.std;
  (*out)[absl::StrCat("p90_", name, "_ms")] = d.p90;
  (*out)[absl::StrCat("p99_", name, "_ms")] = d.p99;
}

nlohmann::json OptionalNumber(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json LoadMetricsJson(const LoadMetrics& m) {
  nlohmann::json j;
  j["completed"] = m.completed;
  j["failed"] = m.failed;
  j["completed_questions"] = m.completed_questions;
  j["failed_questions"] = m.failed_questions;
  j["duration"] = m.duration_s;
  j["total_input_tokens"] = m.total_input_tokens;
  j["total_output_tokens"] = m.total_output_tokens;
  j["request_throughput"] = m.request_throughput;
  j["request_goodput"] = OptionalNumber(m.request_goodput);
  j["question_throughput"] = m.question_throughput;
  j["question_goodput"] = OptionalNumber(m.question_goodput);
  j["output_throughput"] = m.output_throughput;
  j["total_token_throughput"] = m.total_token_throughput;
  PutDistribution("ttft", m.ttft_ms, &j);
  PutDistribution("tpot", m.tpot_ms, &j);
  PutDistribution("itl", m.itl_ms, &j);
  PutDistribution("e2el", m.e2el_ms, &j);
  PutDistribution("scene_e2el", m.scene_e2el_ms, &j);
  nlohmann::json request_errors = nlohmann::json::object();
  for (const auto& [code, n] : m.request_errors) request_errors[std::to_string(code)] = n;
  nlohmann::json question_errors = nlohmann::json::object();
  for (const auto& [code, n] : m.question_errors) question_errors[std::to_string(code)] = n;
  j["errors"] = request_errors;
  j["question_errors"] = question_errors;
  return j;
}

}  // namespace drivelm::benchmarks
