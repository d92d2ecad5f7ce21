// OpenAiJudge: the LLM judge of the DriveLM challenge (eval::Judge) through any
// OpenAI-compatible chat completions endpoint (OpenAI, vLLM, llama.cpp server, ...), over HTTP(S)
// with libcurl.
//
// The prompt, system message, sampling and reply parsing are the challenge's gpt_eval.py ones,
// from eval/judge.h: the judge rates the answer against the reference out of 100 and replies with
// the number (Python float() of the reply, <think> blocks stripped).
//
// Thread-safe: Score/Chat may run concurrently (each call has its own curl handle).
#ifndef DRIVELM_CLIENTS_OPENAI_JUDGE_H_
#define DRIVELM_CLIENTS_OPENAI_JUDGE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "eval/judge.h"

namespace drivelm::clients {

struct JudgeOptions {
  // The API base ("http://127.0.0.1:8000/v1") or the full ".../chat/completions" URL.
  std::string url;
  std::string model;    // e.g. "gpt-3.5-turbo" (the challenge's judge)
  std::string api_key;  // sent as "Authorization: Bearer KEY" when not empty
  double temperature = eval::kDriveLmJudgeTemperature;
  int max_tokens = 3000;                        // gpt_eval.py's forward()
  absl::Duration timeout = absl::Seconds(120);  // per HTTP attempt
  // Attempts after the first for transport errors, HTTP 429 and 5xx (backoff 1 s, 2 s, 4 s, ...).
  int max_retries = 3;
};

// The chat completions endpoint for `url` (appends "/chat/completions" unless present).
std::string ChatCompletionsUrl(absl::string_view url);

class OpenAiJudge final : public eval::Judge {
 public:
  // InvalidArgument for a URL that is not http(s):// or an empty model.
  static absl::StatusOr<std::unique_ptr<OpenAiJudge>> Create(JudgeOptions options);

  // One chat completion (system + user message): the reply's content. Unavailable for
  // transport errors, the HTTP status mapped otherwise (message: the URL, status and the
  // server's error text), DataLoss for a body that is not a chat completion.
  absl::StatusOr<std::string> Chat(const std::string& system, const std::string& user) const;

  // eval::Judge: the 0-100 score of `answer` against `gt` (the question is not sent, as in the
  // challenge).
  absl::StatusOr<double> Score(std::string_view question, std::string_view answer,
                               std::string_view gt) override;

  const JudgeOptions& options() const { return options_; }

 private:
  explicit OpenAiJudge(JudgeOptions options);
  absl::StatusOr<std::string> PostOnce(const std::string& body, int* http_status) const;

  const JudgeOptions options_;
  const std::string endpoint_;
};

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_OPENAI_JUDGE_H_
