#include "engine/question_graph.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace drivelm::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Q {
  std::string id;
  std::vector<std::string> depends_on;
};

absl::StatusOr<QuestionGraph> Build(const std::vector<Q>& questions) {
  std::vector<QuestionRef> refs;
  for (const Q& q : questions) refs.push_back({q.id, q.depends_on});
  return QuestionGraph::Build(refs);
}

TEST(QuestionGraphTest, NoDependenciesKeepsRequestOrder) {
  auto graph = Build({{"a", {}}, {"b", {}}, {"c", {}}});
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_THAT(graph->order(), ElementsAre(0, 1, 2));
  EXPECT_TRUE(graph->parents(1).empty());
  EXPECT_EQ(graph->size(), 3);
}

TEST(QuestionGraphTest, ParentsComeFirstAndOrderIsOtherwiseStable) {
  // c depends on d (a later question); b depends on c and a.
  auto graph = Build({{"a", {}}, {"b", {"c", "a"}}, {"c", {"d"}}, {"d", {}}, {"e", {}}});
  ASSERT_TRUE(graph.ok()) << graph.status();
  // Ready at first: a(0), d(3), e(4). a; then d; d frees c(2), which precedes e(4); c frees b.
  EXPECT_THAT(graph->order(), ElementsAre(0, 3, 2, 1, 4));
  EXPECT_THAT(graph->parents(1), ElementsAre(2, 0));  // depends_on order, not index order
  EXPECT_THAT(graph->parents(2), ElementsAre(3));
}

TEST(QuestionGraphTest, DiamondRunsEachQuestionOnce) {
  auto graph = Build({{"top", {}}, {"l", {"top"}}, {"r", {"top"}}, {"bottom", {"l", "r"}}});
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_THAT(graph->order(), ElementsAre(0, 1, 2, 3));
}

TEST(QuestionGraphTest, EmptyIdIsRefused) {
  auto graph = Build({{"a", {}}, {"", {}}});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("questions[1].id"));
}

TEST(QuestionGraphTest, DuplicateIdIsRefused) {
  auto graph = Build({{"a", {}}, {"b", {}}, {"a", {}}});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("questions[2].id: \"a\""));
  EXPECT_THAT(graph.status().message(), HasSubstr("questions[0]"));
}

TEST(QuestionGraphTest, UnknownDependencyNamesQuestionAndId) {
  auto graph = Build({{"q1", {}}, {"q2", {"q1", "q9"}}});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(),
              HasSubstr("questions[q2].depends_on: unknown question id \"q9\""));
}

TEST(QuestionGraphTest, RepeatedDependencyIsRefused) {
  auto graph = Build({{"q1", {}}, {"q2", {"q1", "q1"}}});
  ASSERT_FALSE(graph.ok());
  EXPECT_THAT(graph.status().message(), HasSubstr("questions[q2].depends_on: \"q1\""));
}

TEST(QuestionGraphTest, SelfDependencyIsACycle) {
  auto graph = Build({{"q1", {}}, {"q2", {"q2"}}});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("cycle q2 -> q2"));
}

TEST(QuestionGraphTest, CycleIsNamed) {
  // a is fine; b -> c -> d -> b is a cycle; e hangs off the cycle without being part of it.
  auto graph = Build({{"a", {}}, {"e", {"c"}}, {"b", {"a", "c"}}, {"c", {"d"}}, {"d", {"b"}}});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("questions.depends_on: cycle c -> d -> b -> c"));
}

TEST(QuestionGraphTest, EmptyRequestHasEmptyOrder) {
  auto graph = Build({});
  ASSERT_TRUE(graph.ok());
  EXPECT_TRUE(graph->order().empty());
}

}  // namespace
}  // namespace drivelm::engine
