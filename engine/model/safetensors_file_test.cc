#include "engine/model/safetensors_file.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/backend/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/safetensors_file_test_" + name;
}

std::string LengthPrefix(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// Writes 8-byte length + header + data as a file; returns its path.
std::string WriteRaw(const std::string& name, const std::string& header, const std::string& data) {
  const std::string path = TempPath(name);
  std::ofstream f(path, std::ios::binary);
  f << LengthPrefix(header.size()) << header << data;
  return path;
}

template <typename T>
std::vector<T> Values(const SafetensorsTensor& t) {
  std::vector<T> v(t.nbytes / sizeof(T));
  std::memcpy(v.data(), t.data, t.nbytes);
  return v;
}

std::vector<float> HalfValues(const SafetensorsTensor& t, bool bf16) {
  std::vector<float> out;
  for (uint16_t h : Values<uint16_t>(t)) out.push_back(bf16 ? Bf16ToF32(h) : F16ToF32(h));
  return out;
}

absl::Status OpenError(const std::string& path) {
  auto f = SafetensorsFile::Open(path);
  return f.ok() ? absl::OkStatus() : f.status();
}

// The file written by the Python library (tools/make_safetensors_testdata.py).
TEST(SafetensorsFileTest, ReadsFileWrittenByPythonLibrary) {
  auto f = SafetensorsFile::Open("engine/model/testdata/python_written.safetensors");
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<std::string> names;
  for (const auto& t : (*f)->tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bf16", "empty", "f16", "f32", "i32", "i64", "scalar"}));

  const SafetensorsTensor* f32 = (*f)->Find("f32");
  ASSERT_NE(f32, nullptr);
  EXPECT_EQ(f32->dtype, SafetensorsDType::kF32);
  EXPECT_EQ(f32->shape, (Shape{2, 3}));
  EXPECT_EQ(Values<float>(*f32), (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));

  const SafetensorsTensor* f16 = (*f)->Find("f16");
  ASSERT_NE(f16, nullptr);
  EXPECT_EQ(f16->dtype, SafetensorsDType::kF16);
  EXPECT_EQ(HalfValues(*f16, false), (std::vector<float>{1.0f, -2.5f, 6.103515625e-05f, 65504.0f}));

  const SafetensorsTensor* bf16 = (*f)->Find("bf16");
  ASSERT_NE(bf16, nullptr);
  EXPECT_EQ(bf16->dtype, SafetensorsDType::kBF16);
  EXPECT_EQ(bf16->shape, (Shape{2, 2}));
  EXPECT_EQ(HalfValues(*bf16, true), (std::vector<float>{1.5f, -0.15625f, 256.0f, -1.7014118346046923e+38f}));

  const SafetensorsTensor* i32 = (*f)->Find("i32");
  ASSERT_NE(i32, nullptr);
  EXPECT_EQ(Values<int32_t>(*i32), (std::vector<int32_t>{-7, 0, 2147483647}));

  const SafetensorsTensor* i64 = (*f)->Find("i64");
  ASSERT_NE(i64, nullptr);
  EXPECT_EQ(i64->dtype, SafetensorsDType::kI64);
  EXPECT_EQ(Values<int64_t>(*i64), (std::vector<int64_t>{-1, int64_t{1} << 40}));

  const SafetensorsTensor* empty = (*f)->Find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->shape, (Shape{0, 4}));
  EXPECT_EQ(empty->nbytes, 0u);

  const SafetensorsTensor* scalar = (*f)->Find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(scalar->shape, Shape{});
  EXPECT_EQ(Values<float>(*scalar), std::vector<float>{3.25f});

  EXPECT_EQ((*f)->Find("__metadata__"), nullptr);
  EXPECT_EQ((*f)->Find("missing"), nullptr);
  // The library pads the header, so every tensor is aligned to its element size.
  for (const auto& t : (*f)->tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % SafetensorsDTypeSize(t.dtype), 0u) << t.name;
  }
}

TEST(SafetensorsFileTest, MetadataIsIgnoredAndGapsAllowed) {
  std::string data(12, '\0');
  float one = 1.0f;
  std::memcpy(&data[8], &one, 4);
  auto path = WriteRaw("gap", R"({"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", data);
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ((*f)->tensors().size(), 1u);
  EXPECT_EQ(Values<float>((*f)->tensors()[0]), std::vector<float>{1.0f});
}

TEST(SafetensorsFileTest, EmptyHeaderObjectHasNoTensors) {
  auto f = SafetensorsFile::Open(WriteRaw("no_tensors", "{}      ", ""));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE((*f)->tensors().empty());
}

TEST(SafetensorsFileTest, MissingFileIsNotFound) {
  absl::Status s = OpenError(TempPath("nope.safetensors"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nope.safetensors"));
}

TEST(SafetensorsFileTest, TooShortForLengthPrefix) {
  const std::string path = TempPath("short");
  std::ofstream(path, std::ios::binary) << "abc";
  absl::Status s = OpenError(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_THAT(std::string(s.message()), HasSubstr("header length"));
}

TEST(SafetensorsFileTest, HeaderLengthBeyondFile) {
  const std::string path = TempPath("long_header");
  std::ofstream(path, std::ios::binary) << LengthPrefix(1000) << "{}";
  absl::Status s = OpenError(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("header length 1000 runs past the end"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
}

TEST(SafetensorsFileTest, HugeHeaderLengthDoesNotOverflow) {
  const std::string path = TempPath("huge_header");
  std::ofstream(path, std::ios::binary) << LengthPrefix(~uint64_t{0}) << "{}";
  EXPECT_EQ(OpenError(path).code(), absl::StatusCode::kInvalidArgument);
}

struct BadCase {
  const char* name;
  const char* header;
  size_t data_bytes;
  const char* expected;  // substring of the message
};

class SafetensorsFileBadHeaderTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SafetensorsFileBadHeaderTest, IsInvalidArgumentNamingFileAndProblem) {
  const BadCase& c = GetParam();
  const std::string path = WriteRaw(c.name, c.header, std::string(c.data_bytes, '\0'));
  absl::Status s = OpenError(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_THAT(std::string(s.message()), HasSubstr(c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    BadHeaders, SafetensorsFileBadHeaderTest,
    ::testing::Values(
        BadCase{"not_json", "{\"a\": ", 0, "not valid JSON"},
        BadCase{"not_object", "[1, 2]", 0, "not a JSON object"},
        BadCase{"entry_not_object", R"({"w": 3})", 0, "tensor 'w': entry is not a JSON object"},
        BadCase{"unknown_dtype", R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8,
                "tensor 'w': unsupported dtype \"F64\""},
        BadCase{"missing_dtype", R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4, "tensor 'w': missing"},
        BadCase{"missing_shape", R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4, "\"shape\""},
        BadCase{"negative_dim", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4,
                "not a non-negative integer"},
        BadCase{"float_dim", R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4,
                "not a non-negative integer"},
        BadCase{"huge_shape",
                R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4,
                "too large"},
        BadCase{"offsets_arity", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4,
                "\"data_offsets\" must be two"},
        BadCase{"offsets_reversed", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", 4, "reversed"},
        BadCase{"offsets_out_of_range", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4,
                "tensor 'w': data_offsets [0, 8] run past the data area of 4 bytes"},
        BadCase{"size_mismatch", R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]}})", 8,
                "tensor 'w': data_offsets [0, 4] hold 4 bytes but BF16[2, 2] needs 8"},
        BadCase{"overlap",
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                12, "tensor 'b': data_offsets [4, 12] overlap those of tensor 'a' [0, 8]"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace drivelm::engine
