// ProgressBar: progress of a long client run on stderr. On a terminal, one line redrawn in
// place (at most 10 times a second): a bar, done/total, the rate and the ETA; otherwise (a log
// file, CI) a plain line every `line_interval`, so logs stay readable.
//
// Thread-safe: Update may be called from any thread.
#ifndef DRIVELM_CLIENTS_PROGRESS_BAR_H_
#define DRIVELM_CLIENTS_PROGRESS_BAR_H_

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

#include "absl/time/time.h"

namespace drivelm::clients {

// "1h02m", "7m24s", "12s"; "?" for a negative or non-finite time.
std::string FormatDuration(double seconds);

// The text of one progress line, e.g.
//   "[########------------]  40/100 questions (1 failed) | 3.2/s | ETA 18s"
// `rate` is per second (<= 0: unknown, no ETA); `bar_width` 0 leaves the bar out.
std::string FormatProgress(int64_t done, int64_t total, int64_t failed, const std::string& unit,
                           double rate, int bar_width);

class ProgressBar {
 public:
  // `out`: usually stderr. `tty`: redraw in place (isatty(fileno(out)) by default).
  ProgressBar(std::FILE* out, int64_t total, std::string unit, bool tty,
              absl::Duration line_interval = absl::Seconds(10));

  // `done` counts only this run's work (the rate and ETA are over it); `total` is what this run
  // has to do.
  void Update(int64_t done, int64_t failed);
  // The final line (and a newline on a terminal).
  void Finish(int64_t done, int64_t failed);

 private:
  void Draw(int64_t done, int64_t failed, bool final);

  std::FILE* const out_;
  const int64_t total_;
  const std::string unit_;
  const bool tty_;
  const absl::Duration line_interval_;
  const absl::Time start_;
  std::mutex mu_;
  absl::Time last_draw_ = absl::InfinitePast();  // guarded by mu_
};

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_PROGRESS_BAR_H_
