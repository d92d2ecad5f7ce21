#include "engine/question_graph.h"

#include <functional>
#include <queue>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace drivelm::engine {

absl::StatusOr<QuestionGraph> QuestionGraph::Build(absl::Span<const QuestionRef> questions) {
  const int n = static_cast<int>(questions.size());
  absl::flat_hash_map<absl::string_view, int> index_of;  // id -> question index
  for (int i = 0; i < n; ++i) {
    const absl::string_view id = questions[i].id;
    if (id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("questions[", i, "].id: must not be empty"));
    }
    auto [it, inserted] = index_of.emplace(id, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("questions[", i, "].id: \"", id,
                                                     "\" is also the id of questions[",
                                                     it->second, "]"));
    }
  }

  QuestionGraph graph;
  graph.parents_.resize(n);
  std::vector<int> missing_parents(n, 0);   // parents not yet ordered
  std::vector<std::vector<int>> children(n);
  for (int i = 0; i < n; ++i) {
    for (const std::string& parent_id : questions[i].depends_on) {
      auto it = index_of.find(parent_id);
      if (it == index_of.end()) {
        return absl::InvalidArgumentError(absl::StrCat("questions[", questions[i].id,
                                                       "].depends_on: unknown question id \"",
                                                       parent_id, "\""));
      }
      std::vector<int>& parents = graph.parents_[i];
      for (int p : parents) {
        if (p == it->second) {
          return absl::InvalidArgumentError(absl::StrCat(
              "questions[", questions[i].id, "].depends_on: \"", parent_id, "\" is listed twice"));
        }
      }
      parents.push_back(it->second);
      children[it->second].push_back(i);
      ++missing_parents[i];
    }
  }

  // Kahn's algorithm; the min-heap makes the order follow the request among ready questions.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (missing_parents[i] == 0) ready.push(i);
  }
  while (!ready.empty()) {
    const int q = ready.top();
    ready.pop();
    graph.order_.push_back(q);
    for (int child : children[q]) {
      if (--missing_parents[child] == 0) ready.push(child);
    }
  }
  if (static_cast<int>(graph.order_.size()) == n) return graph;

  // Every unordered question has an unordered parent, so following those from the first
  // unordered question must come back to a question already on the path: that is a cycle.
  int start = 0;
  while (missing_parents[start] == 0) ++start;
  std::vector<int> position(n, -1);  // index on `path`, -1 when not on it
  std::vector<int> path;
  int q = start;
  while (position[q] < 0) {
    position[q] = static_cast<int>(path.size());
    path.push_back(q);
    for (int p : graph.parents_[q]) {
      if (missing_parents[p] > 0) {
        q = p;
        break;
      }
    }
  }
  std::vector<absl::string_view> cycle;
  for (size_t i = position[q]; i < path.size(); ++i) cycle.push_back(questions[path[i]].id);
  cycle.push_back(questions[q].id);
  return absl::InvalidArgumentError(absl::StrCat("questions.depends_on: cycle ",
                                                 absl::StrJoin(cycle, " -> "),
                                                 " (each depends on the next)"));
}

}  // namespace drivelm::engine
