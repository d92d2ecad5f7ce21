#include "clients/openai_judge.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace drivelm::clients {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// The server's error text in an OpenAI error body ({"error": {"message": ...}}), else the body.
std::string ErrorText(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error")) {
    const nlohmann::json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      return e["message"].get<std::string>();
    }
    if (e.is_string()) return e.get<std::string>();
  }
  return body.size() > 500 ? body.substr(0, 500) + "..." : body;
}

absl::Status HttpError(int status, const std::string& where, const std::string& body) {
  const std::string message = absl::StrCat(where, ": HTTP ", status, ": ", ErrorText(body));
  switch (status) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 429:
      return absl::ResourceExhaustedError(message);
    default:
      return status >= 500 ? absl::UnavailableError(message) : absl::UnknownError(message);
  }
}

}  // namespace

std::string ChatCompletionsUrl(absl::string_view url) {
  absl::string_view base = url;
  while (absl::ConsumeSuffix(&base, "/")) {
  }
  if (absl::EndsWith(base, "/chat/completions")) return std::string(base);
  return absl::StrCat(base, "/chat/completions");
}

absl::StatusOr<std::unique_ptr<OpenAiJudge>> OpenAiJudge::Create(JudgeOptions options) {
  if (!absl::StartsWith(options.url, "http://") && !absl::StartsWith(options.url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--judge_url must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1), not '",
        options.url, "'"));
  }
  if (options.model.empty()) {
    return absl::InvalidArgumentError("--judge_url needs --judge_model (e.g. gpt-3.5-turbo)");
  }
  InitCurlOnce();
  return std::unique_ptr<OpenAiJudge>(new OpenAiJudge(std::move(options)));
}

OpenAiJudge::OpenAiJudge(JudgeOptions options)
    : options_(std::move(options)), endpoint_(ChatCompletionsUrl(options_.url)) {}

absl::StatusOr<std::string> OpenAiJudge::PostOnce(const std::string& body, int* http_status) const {
  *http_status = 0;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  // No "Expect: 100-continue" for larger bodies: some servers never answer it (a 1 s stall).
  headers = curl_slist_append(headers, "Expect:");
  if (!options_.api_key.empty()) {
    headers = curl_slist_append(headers,
                                absl::StrCat("Authorization: Bearer ", options_.api_key).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, endpoint_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(endpoint_, ": ", curl_easy_strerror(rc)));
  }
  *http_status = static_cast<int>(status);
  if (status != 200) return HttpError(static_cast<int>(status), endpoint_, response);
  return response;
}

absl::StatusOr<std::string> OpenAiJudge::Chat(const std::string& system,
                                              const std::string& user) const {
  const nlohmann::json request = {
      {"model", options_.model},
      {"messages", nlohmann::json::array({{{"role", "system"}, {"content", system}},
                                          {{"role", "user"}, {"content", user}}})},
      {"temperature", options_.temperature},
      {"max_tokens", options_.max_tokens},
  };
  const std::string body =
      request.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  absl::StatusOr<std::string> response;
  for (int attempt = 0;; ++attempt) {
    int http_status = 0;
    response = PostOnce(body, &http_status);
    if (response.ok()) break;
    const bool transient = http_status == 0 || http_status == 429 || http_status >= 500;
    if (!transient || attempt >= options_.max_retries) return response.status();
    absl::SleepFor(absl::Seconds(1 << std::min(attempt, 5)));
  }
  const nlohmann::json j = nlohmann::json::parse(*response, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() ||
      j["choices"].empty() || !j["choices"][0].is_object() ||
      !j["choices"][0].contains("message") || !j["choices"][0]["message"].is_object() ||
      !j["choices"][0]["message"].contains("content") ||
      !j["choices"][0]["message"]["content"].is_string()) {
    return absl::DataLossError(
        absl::StrCat(endpoint_, ": not a chat completion (expected choices[0].message.content): ",
                     response->substr(0, 300)));
  }
  return j["choices"][0]["message"]["content"].get<std::string>();
}

absl::StatusOr<double> OpenAiJudge::Score(std::string_view question, std::string_view answer,
                                          std::string_view gt) {
  (void)question;  // the challenge's judge never sees it
  absl::StatusOr<std::string> reply =
      Chat(eval::kDriveLmJudgeSystemPrompt, eval::DriveLmJudgeUserPrompt(answer, gt));
  if (!reply.ok()) return reply.status();
  return eval::ParseJudgeReply(*reply);
}

}  // namespace drivelm::clients
