#include "eval/judge.h"

#include <charconv>
#include <string>
#include <string_view>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace drivelm::eval {

std::string DriveLmJudgeUserPrompt(std::string_view answer, std::string_view gt) {
  // Concatenated without separators, exactly as gpt_eval.py does.
  return absl::StrCat(
      "Rate my answer based on the correct answer out of 100, with higher scores indicating "
      "that the answer is closer to the correct answer, and you should be accurate to single "
      "digits like 62, 78, 41,etc. Output the number only",
      "This is the correct answer: ", std::string(gt), "This is my answer: ",
      std::string(answer));
}

absl::StatusOr<double> ParseJudgeReply(std::string_view reply) {
  std::string text(reply);
  // _strip_think_tags: re.sub(r"<think>[\s\S]*?</think>\s*", "", content).strip()
  while (true) {
    const size_t open = text.find("<think>");
    if (open == std::string::npos) break;
    const size_t close = text.find("</think>", open);
    if (close == std::string::npos) break;
    size_t end = close + 8;
    while (end < text.size() && std::string_view(" \t\n\r\f\v").find(text[end]) !=
                                    std::string_view::npos) {
      ++end;
    }
    text.erase(open, end - open);
  }
  std::string_view s = text;
  const std::string_view ws = " \t\n\r\f\v";
  while (!s.empty() && ws.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && ws.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("judge reply is not a number: \"", std::string(reply.substr(0, 200)),
                     "\"; expected a score like 62"));
  }
  return value;
}

}  // namespace drivelm::eval
