#include "clients/prediction_file.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::clients {
namespace {

using ::testing::HasSubstr;

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PredictionFileTest, NewFileAddWriteReopen) {
  const std::string path = TmpPath("pred_new.json");
  std::filesystem::remove(path);
  absl::StatusOr<PredictionFile> file = PredictionFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->size(), 0u);
  file->Add({"s_f_0", "What?", "A car."});
  file->Add({"s_f_1", "Where?", "Ahead \"quoted\"\n"});
  file->Add({"s_f_0", "What?", "A truck."});  // replaces in place
  ASSERT_TRUE(file->Write().ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));

  absl::StatusOr<PredictionFile> again = PredictionFile::Open(path);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 2u);
  EXPECT_TRUE(again->Has("s_f_0"));
  EXPECT_FALSE(again->Has("s_f_2"));
  EXPECT_EQ(again->predictions()[0].answer, "A truck.");
  EXPECT_EQ(again->predictions()[1].answer, "Ahead \"quoted\"\n");
  // The official layout: a list of objects with exactly id, question, answer.
  EXPECT_THAT(ReadAll(path), HasSubstr("\"id\": \"s_f_0\""));
  EXPECT_THAT(ReadAll(path), HasSubstr("\"question\": \"What?\""));
}

TEST(PredictionFileTest, InvalidUtf8IsReplacedNotFatal) {
  const std::string path = TmpPath("pred_utf8.json");
  PredictionFile file = *PredictionFile::Open(path);
  file.Add({"a", "q", std::string("bad \xff byte")});
  ASSERT_TRUE(file.Write().ok());
  absl::StatusOr<PredictionFile> again = PredictionFile::Open(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(again->predictions()[0].answer, HasSubstr("bad "));
}

TEST(PredictionFileTest, MalformedFilesAreRefused) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"{", "not valid JSON"},
      {"{}", "expected a list"},
      {"[1]", "entry 0: not an object"},
      {R"([{"question": "q", "answer": "a"}])", "entry 0: no \"id\""},
      {R"([{"id": "x", "question": "q"}])", "entry 0: no \"answer\""},
      {R"([{"id": "x", "answer": 3}])", "entry 0.answer: expected a string"},
      {R"([{"id": "", "answer": "a"}])", "empty \"id\""},
      {R"([{"id": "x", "answer": "a"}, {"id": "x", "answer": "b"}])", "id x appears twice"},
  };
  for (const Case& c : cases) {
    const std::string path = TmpPath("pred_bad.json");
    {
      std::ofstream out(path);
      out << c.text;
    }
    absl::StatusOr<PredictionFile> file = PredictionFile::Open(path);
    ASSERT_FALSE(file.ok()) << c.text;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(file.status().message(), HasSubstr(c.expected)) << c.text;
    EXPECT_THAT(file.status().message(), HasSubstr("pred_bad.json")) << c.text;
  }
  // "question" may be absent (the scorer does not need it).
  ASSERT_TRUE(PredictionFile::Parse(R"([{"id": "x", "answer": "a"}])", "p").ok());
}

TEST(PredictionFileTest, UnwritableDirectory) {
  PredictionFile file = *PredictionFile::Open("/no/such/dir/pred.json");
  file.Add({"a", "q", "x"});
  const absl::Status s = file.Write();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("/no/such/dir/pred.json"));
}

}  // namespace
}  // namespace drivelm::clients
