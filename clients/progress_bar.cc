#include "clients/progress_bar.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace drivelm::clients {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

std::string FormatProgress(int64_t done, int64_t total, int64_t failed, const std::string& unit,
                           double rate, int bar_width) {
  std::string line;
  if (bar_width > 0) {
    const double fraction =
        total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0)
                  : 1.0;
    const int filled = static_cast<int>(fraction * bar_width);
    line = absl::StrCat("[", std::string(filled, '#'), std::string(bar_width - filled, '-'), "] ");
  }
  const int digits = static_cast<int>(std::to_string(total).size());
  absl::StrAppendFormat(&line, "%*d/%d %s", digits, done, total, unit);
  if (failed > 0) absl::StrAppend(&line, " (", failed, " failed)");
  if (rate > 0) {
    absl::StrAppendFormat(
        &line, " | %.3g/s | ETA %s", rate,
        FormatDuration(static_cast<double>(std::max<int64_t>(total - done - failed, 0)) / rate));
  } else {
    absl::StrAppend(&line, " | ETA ?");
  }
  return line;
}

ProgressBar::ProgressBar(std::FILE* out, int64_t total, std::string unit, bool tty,
                         absl::Duration line_interval)
    : out_(out),
      total_(total),
      unit_(std::move(unit)),
      tty_(tty),
      line_interval_(line_interval),
      start_(absl::Now()) {}

void ProgressBar::Update(int64_t done, int64_t failed) { Draw(done, failed, false); }

void ProgressBar::Finish(int64_t done, int64_t failed) { Draw(done, failed, true); }

void ProgressBar::Draw(int64_t done, int64_t failed, bool final) {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  const absl::Duration min_gap = tty_ ? absl::Milliseconds(100) : line_interval_;
  if (!final && now - last_draw_ < min_gap) return;
  last_draw_ = now;
  const double elapsed = absl::ToDoubleSeconds(now - start_);
  const double rate = elapsed > 0 && done > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string line = FormatProgress(done, total_, failed, unit_, rate, tty_ ? 30 : 0);
  absl::StrAppend(&line, " | ", FormatDuration(elapsed), " elapsed");
  if (tty_) {
    // \r and clear-to-end-of-line: the line is redrawn in place.
    std::fprintf(out_, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "progress: %s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace drivelm::clients
