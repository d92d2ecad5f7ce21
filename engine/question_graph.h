// QuestionGraph: the depends_on graph of one request's questions, validated, and the order in
// which the engine answers them. A question depends on questions of the same request (named by
// id, earlier or later in the request); it runs after all of them, with their questions and
// answers as context.
//
// Build() checks: ids non-empty and unique, every depends_on entry names a question of the request
// and is listed once, and the graph has no cycle (a question depending on itself is a cycle).
// The order is topological and otherwise follows the request: among the questions whose parents
// have all been answered, the earliest in the request runs first, so a request without
// depends_on runs in request order.
//
// Immutable after Build(); safe to share between threads.
#ifndef DRIVELM_ENGINE_QUESTION_GRAPH_H_
#define DRIVELM_ENGINE_QUESTION_GRAPH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace drivelm::engine {

// One question as the graph sees it; views into the caller's request (used only during Build).
struct QuestionRef {
  absl::string_view id;
  absl::Span<const std::string> depends_on;
};

class QuestionGraph {
 public:
  QuestionGraph() = default;  // no questions

  // InvalidArgument naming the question (by index for a bad id, by id otherwise) and the
  // offending entry: "questions[q2].depends_on: unknown question id \"q9\"", or the cycle:
  // "questions.depends_on: cycle q1 -> q2 -> q1 (each depends on the next)".
  static absl::StatusOr<QuestionGraph> Build(absl::Span<const QuestionRef> questions);

  int size() const { return static_cast<int>(parents_.size()); }
  // Question indices in answering order: every question after all of its parents.
  const std::vector<int>& order() const { return order_; }
  // Indices of the questions `question` depends on, in its depends_on order.
  const std::vector<int>& parents(int question) const { return parents_[question]; }

 private:
  std::vector<std::vector<int>> parents_;  // [question] -> parent indices
  std::vector<int> order_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_QUESTION_GRAPH_H_
