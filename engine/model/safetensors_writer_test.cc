#include "engine/model/safetensors_writer.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/half.h"
#include "engine/model/safetensors_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/safetensors_writer_test_" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(SafetensorsWriterTest, RoundTripsEveryDtype) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.AddF32("a.f32", {2, 2}, {1.0f, -2.0f, 3.5f, 0.25f}).ok());
  const std::vector<uint16_t> bf16 = {F32ToBf16(1.5f), F32ToBf16(-3.0f), F32ToBf16(0.0f)};
  ASSERT_TRUE(w.Add("b.bf16", SafetensorsDType::kBF16, {3}, bf16.data(), 6).ok());
  const uint16_t f16 = F32ToF16(-0.5f);
  ASSERT_TRUE(w.Add("c.f16", SafetensorsDType::kF16, {1, 1}, &f16, 2).ok());
  const std::vector<int32_t> i32 = {7, -8, 9};
  ASSERT_TRUE(w.Add("d.i32", SafetensorsDType::kI32, {3}, i32.data(), 12).ok());
  const int64_t i64 = -5;
  ASSERT_TRUE(w.Add("e.i64", SafetensorsDType::kI64, {}, &i64, 8).ok());
  ASSERT_TRUE(w.Add("f.empty", SafetensorsDType::kF32, {0, 3}, nullptr, 0).ok());
  w.SetMetadata("format", "pt");

  const std::string path = TempPath("roundtrip.safetensors");
  ASSERT_TRUE(w.WriteFile(path).ok());
  EXPECT_EQ(ReadAll(path), w.Serialize());

  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ((*f)->tensors().size(), 6u);

  const SafetensorsTensor* a = (*f)->Find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (Shape{2, 2}));
  std::vector<float> av(4);
  std::memcpy(av.data(), a->data, 16);
  EXPECT_EQ(av, (std::vector<float>{1.0f, -2.0f, 3.5f, 0.25f}));

  const SafetensorsTensor* b = (*f)->Find("b.bf16");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, SafetensorsDType::kBF16);
  EXPECT_EQ(std::memcmp(b->data, bf16.data(), 6), 0);

  const SafetensorsTensor* c = (*f)->Find("c.f16");
  ASSERT_NE(c, nullptr);
  uint16_t cv;
  std::memcpy(&cv, c->data, 2);
  EXPECT_EQ(F16ToF32(cv), -0.5f);

  const SafetensorsTensor* d = (*f)->Find("d.i32");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(std::memcmp(d->data, i32.data(), 12), 0);

  const SafetensorsTensor* e = (*f)->Find("e.i64");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->shape, Shape{});
  int64_t ev;
  std::memcpy(&ev, e->data, 8);
  EXPECT_EQ(ev, -5);

  for (const auto& t : (*f)->tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % SafetensorsDTypeSize(t.dtype), 0u) << t.name;
  }
}

TEST(SafetensorsWriterTest, HeaderIsPaddedWithSpacesToEightBytes) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.AddF32("x", {1}, {2.0f}).ok());
  const std::string bytes = w.Serialize();
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find_first_not_of(' ', header.rfind('}') + 1), std::string::npos);
  EXPECT_THAT(header, HasSubstr(R"("x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})"));
  EXPECT_EQ(bytes.size(), 8 + n + 4);
}

// Same tensors and metadata as tools/make_safetensors_testdata.py: the bytes must be identical
// to what the Python library wrote.
TEST(SafetensorsWriterTest, MatchesPythonLibraryByteForByte) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.AddF32("f32", {2, 3}, {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}).ok());
  std::vector<uint16_t> f16;
  for (float x : {1.0f, -2.5f, 6.103515625e-05f, 65504.0f}) f16.push_back(F32ToF16(x));
  ASSERT_TRUE(w.Add("f16", SafetensorsDType::kF16, {4}, f16.data(), 8).ok());
  std::vector<uint16_t> bf16;
  for (float x : {1.5f, -0.15625f, 256.0f, -1.7014118346046923e+38f}) bf16.push_back(F32ToBf16(x));
  ASSERT_TRUE(w.Add("bf16", SafetensorsDType::kBF16, {2, 2}, bf16.data(), 8).ok());
  const std::vector<int32_t> i32 = {-7, 0, 2147483647};
  ASSERT_TRUE(w.Add("i32", SafetensorsDType::kI32, {3}, i32.data(), 12).ok());
  const std::vector<int64_t> i64 = {-1, int64_t{1} << 40};
  ASSERT_TRUE(w.Add("i64", SafetensorsDType::kI64, {2}, i64.data(), 16).ok());
  ASSERT_TRUE(w.AddF32("empty", {0, 4}, {}).ok());
  ASSERT_TRUE(w.AddF32("scalar", {}, {3.25f}).ok());
  w.SetMetadata("format", "pt");
  EXPECT_EQ(w.Serialize(), ReadAll("engine/model/testdata/python_written.safetensors"));
}

TEST(SafetensorsWriterTest, RejectsBadTensors) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.AddF32("x", {2}, {1.0f, 2.0f}).ok());

  absl::Status dup = w.AddF32("x", {1}, {1.0f});
  EXPECT_EQ(dup.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dup.message()), HasSubstr("'x' added twice"));

  absl::Status size = w.AddF32("y", {3}, {1.0f, 2.0f});
  EXPECT_EQ(size.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(size.message()), HasSubstr("'y' F32[3] needs 12 bytes, got 8"));

  EXPECT_EQ(w.AddF32("", {1}, {1.0f}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddF32("__metadata__", {1}, {1.0f}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(w.AddF32("neg", {-1}, {}).message()), HasSubstr("negative dimension"));
}

TEST(SafetensorsWriterTest, UnwritablePathIsAnError) {
  SafetensorsWriter w;
  absl::Status s = w.WriteFile(TempPath("no_such_dir/x.safetensors"));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("no_such_dir"));
}

}  // namespace
}  // namespace drivelm::engine
