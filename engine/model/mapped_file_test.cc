#include "engine/model/mapped_file.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/mapped_file_test_" + name;
}

TEST(MappedFileTest, MapsContents) {
  const std::string path = TempPath("hello");
  std::ofstream(path, std::ios::binary) << "hello\0world";
  auto f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*f)->data()), (*f)->size()), "hello");
  EXPECT_EQ((*f)->path(), path);
}

TEST(MappedFileTest, EmptyFileHasNoData) {
  const std::string path = TempPath("empty");
  std::ofstream(path, std::ios::binary).close();
  auto f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->size(), 0u);
  EXPECT_EQ((*f)->data(), nullptr);
}

TEST(MappedFileTest, MissingFileIsNotFound) {
  auto f = MappedFile::Open(TempPath("does_not_exist"));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find("does_not_exist"), absl::string_view::npos);
}

TEST(MappedFileTest, DirectoryIsRejected) {
  const char* dir = std::getenv("TEST_TMPDIR");
  auto f = MappedFile::Open(dir ? dir : "/tmp");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace drivelm::engine
