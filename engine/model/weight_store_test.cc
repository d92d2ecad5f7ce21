#include "engine/model/weight_store.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/model/safetensors_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

// A fresh directory under TEST_TMPDIR.
std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/weight_store_test_" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

void WriteTensors(const std::string& path, const std::vector<std::string>& names, int64_t n = 2) {
  SafetensorsWriter w;
  float v = 0;
  for (const std::string& name : names) {
    std::vector<float> values(n);
    for (float& x : values) x = v++;
    ASSERT_TRUE(w.AddF32(name, {n}, values).ok());
  }
  ASSERT_TRUE(w.WriteFile(path).ok());
}

TEST(CanonicalWeightNameTest, MapsNewLayoutAndKeepsCanonical) {
  EXPECT_EQ(CanonicalWeightName("model.language_model.layers.3.mlp.up_proj.weight"),
            "language_model.model.layers.3.mlp.up_proj.weight");
  EXPECT_EQ(CanonicalWeightName("model.language_model.embed_tokens.weight"),
            "language_model.model.embed_tokens.weight");
  EXPECT_EQ(CanonicalWeightName("model.language_model.norm.weight"), "language_model.model.norm.weight");
  EXPECT_EQ(CanonicalWeightName("lm_head.weight"), "language_model.lm_head.weight");
  EXPECT_EQ(CanonicalWeightName("model.vision_tower.vision_model.post_layernorm.bias"),
            "vision_tower.vision_model.post_layernorm.bias");
  EXPECT_EQ(CanonicalWeightName("model.multi_modal_projector.linear.weight"),
            "multi_modal_projector.linear.weight");
  // Already canonical, or unrelated: unchanged.
  EXPECT_EQ(CanonicalWeightName("language_model.model.layers.0.input_layernorm.weight"),
            "language_model.model.layers.0.input_layernorm.weight");
  EXPECT_EQ(CanonicalWeightName("language_model.lm_head.weight"), "language_model.lm_head.weight");
  EXPECT_EQ(CanonicalWeightName("vision_tower.vision_model.head.probe"), "vision_tower.vision_model.head.probe");
  EXPECT_EQ(CanonicalWeightName("model.other.weight"), "model.other.weight");
}

TEST(WeightStoreTest, OpensSingleFileByDirectoryAndByPath) {
  const std::string dir = TempDir("single");
  WriteTensors(dir + "/model.safetensors", {"language_model.model.norm.weight", "multi_modal_projector.linear.bias"});
  for (const std::string& path : {dir, dir + "/model.safetensors"}) {
    auto store = WeightStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->Names(), (std::vector<std::string>{"language_model.model.norm.weight",
                                                           "multi_modal_projector.linear.bias"}));
    const WeightView* v = (*store)->Find("multi_modal_projector.linear.bias");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->dtype, DType::kF32);
    EXPECT_EQ(v->shape, Shape{2});
    EXPECT_EQ(v->nbytes, 8u);
    EXPECT_EQ(static_cast<const float*>(v->data)[1], 3.0f);
    EXPECT_EQ(v->file_name, "multi_modal_projector.linear.bias");
    EXPECT_EQ((*store)->Find("nope"), nullptr);
  }
}

TEST(WeightStoreTest, NewLayoutIsFoundUnderCanonicalNames) {
  const std::string dir = TempDir("new_layout");
  WriteTensors(dir + "/model.safetensors", {"model.language_model.layers.0.self_attn.q_proj.weight", "lm_head.weight",
                                            "model.vision_tower.vision_model.embeddings.patch_embedding.bias",
                                            "model.multi_modal_projector.linear.weight"});
  auto store = WeightStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Names(),
            (std::vector<std::string>{"language_model.lm_head.weight",
                                      "language_model.model.layers.0.self_attn.q_proj.weight",
                                      "multi_modal_projector.linear.weight",
                                      "vision_tower.vision_model.embeddings.patch_embedding.bias"}));
  const WeightView* v = (*store)->Find("language_model.lm_head.weight");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->name, "language_model.lm_head.weight");
  EXPECT_EQ(v->file_name, "lm_head.weight");
  EXPECT_EQ((*store)->Find("lm_head.weight"), nullptr);
}

TEST(WeightStoreTest, TwoStoredNamesForOneCanonicalNameIsAnError) {
  const std::string dir = TempDir("dup_canonical");
  WriteTensors(dir + "/model.safetensors", {"language_model.lm_head.weight", "lm_head.weight"});
  auto store = WeightStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("'language_model.lm_head.weight'"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("'lm_head.weight'"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("both map to canonical name"));
}

TEST(WeightStoreTest, RequireChecksShape) {
  const std::string dir = TempDir("require");
  WriteTensors(dir + "/model.safetensors", {"a.weight"}, 6);
  auto store = WeightStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();

  auto ok = (*store)->Require("a.weight", {6});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->name, "a.weight");

  auto shape = (*store)->Require("a.weight", {2, 3});
  EXPECT_EQ(shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(shape.status().message()), HasSubstr("'a.weight'"));
  EXPECT_THAT(std::string(shape.status().message()), HasSubstr("has shape [6], expected [2, 3]"));

  auto missing = (*store)->Require("b.weight", {4});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no tensor 'b.weight' (expected shape [4])"));
}

TEST(WeightStoreTest, I64TensorsAreHiddenButNamedByRequire) {
  const std::string dir = TempDir("i64");
  SafetensorsWriter w;
  const std::vector<int64_t> ids = {0, 1, 2};
  ASSERT_TRUE(w.Add("vision_tower.vision_model.embeddings.position_ids", SafetensorsDType::kI64, {3}, ids.data(), 24)
                  .ok());
  ASSERT_TRUE(w.AddF32("x", {1}, {1.0f}).ok());
  ASSERT_TRUE(w.WriteFile(dir + "/model.safetensors").ok());
  auto store = WeightStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Names(), std::vector<std::string>{"x"});
  EXPECT_EQ((*store)->Find("vision_tower.vision_model.embeddings.position_ids"), nullptr);
  auto r = (*store)->Require("vision_tower.vision_model.embeddings.position_ids", {3});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("has dtype I64"));
}

TEST(WeightStoreTest, OpensShardedCheckpoint) {
  const std::string dir = TempDir("sharded");
  WriteTensors(dir + "/model-00001-of-00002.safetensors", {"model.language_model.embed_tokens.weight", "a"});
  WriteTensors(dir + "/model-00002-of-00002.safetensors", {"model.language_model.norm.weight"});
  WriteText(dir + "/model.safetensors.index.json", R"({
    "metadata": {"total_size": 24},
    "weight_map": {
      "model.language_model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "a": "model-00001-of-00002.safetensors",
      "model.language_model.norm.weight": "model-00002-of-00002.safetensors"
    }})");
  for (const std::string& path : {dir, dir + "/model.safetensors.index.json"}) {
    auto store = WeightStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->Names(), (std::vector<std::string>{"a", "language_model.model.embed_tokens.weight",
                                                           "language_model.model.norm.weight"}));
    const WeightView* norm = (*store)->Find("language_model.model.norm.weight");
    ASSERT_NE(norm, nullptr);
    EXPECT_EQ(static_cast<const float*>(norm->data)[0], 0.0f);
    const WeightView* a = (*store)->Find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(static_cast<const float*>(a->data)[0], 2.0f);
  }
}

TEST(WeightStoreTest, IndexTakesPrecedenceOverSingleFile) {
  const std::string dir = TempDir("both");
  WriteTensors(dir + "/model.safetensors", {"single"});
  WriteTensors(dir + "/shard.safetensors", {"sharded"});
  WriteText(dir + "/model.safetensors.index.json", R"({"weight_map": {"sharded": "shard.safetensors"}})");
  auto store = WeightStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Names(), std::vector<std::string>{"sharded"});
}

TEST(WeightStoreTest, MissingShardIsNamed) {
  const std::string dir = TempDir("missing_shard");
  WriteTensors(dir + "/model-00001-of-00002.safetensors", {"a"});
  WriteText(dir + "/model.safetensors.index.json", R"({"weight_map": {
      "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})");
  auto store = WeightStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("shard 'model-00002-of-00002.safetensors'"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("is missing"));
}

TEST(WeightStoreTest, IndexEntryAbsentFromItsShard) {
  const std::string dir = TempDir("misplaced");
  WriteTensors(dir + "/s1.safetensors", {"a"});
  WriteTensors(dir + "/s2.safetensors", {"b"});
  WriteText(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": "s2.safetensors", "b": "s2.safetensors"}})");
  auto store = WeightStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("places tensor 'a' in shard 's2.safetensors'"));
}

TEST(WeightStoreTest, SameTensorInTwoShardsIsAnError) {
  const std::string dir = TempDir("twice");
  WriteTensors(dir + "/s1.safetensors", {"a"});
  WriteTensors(dir + "/s2.safetensors", {"a", "b"});
  WriteText(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  auto store = WeightStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("tensor 'a' is stored twice"));
}

TEST(WeightStoreTest, MalformedIndexes) {
  const struct {
    const char* name;
    const char* text;
    const char* expected;
  } cases[] = {
      {"not_json", "{", "not valid JSON"},
      {"no_map", R"({"metadata": {}})", "\"weight_map\""},
      {"empty_map", R"({"weight_map": {}})", "empty"},
      {"non_string", R"({"weight_map": {"a": 3}})", "entry for 'a' is not a string"},
      {"path_escape", R"({"weight_map": {"a": "../x.safetensors"}})", "not a plain file name"},
  };
  for (const auto& c : cases) {
    const std::string dir = TempDir(std::string("bad_index_") + c.name);
    WriteText(dir + "/model.safetensors.index.json", c.text);
    auto store = WeightStore::Open(dir);
    ASSERT_FALSE(store.ok()) << c.name;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(store.status().message()), HasSubstr(c.expected)) << c.name;
    EXPECT_THAT(std::string(store.status().message()), HasSubstr("model.safetensors.index.json")) << c.name;
  }
}

TEST(WeightStoreTest, CorruptShardErrorNamesFile) {
  const std::string dir = TempDir("corrupt");
  WriteText(dir + "/model.safetensors", "garbage!garbage!");
  auto store = WeightStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(dir + "/model.safetensors"));
}

TEST(WeightStoreTest, MissingPathsAreNotFound) {
  EXPECT_EQ(WeightStore::Open(TempDir("x") + "/nothing_here").status().code(), absl::StatusCode::kNotFound);
  auto empty = WeightStore::Open(TempDir("empty_dir"));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("neither model.safetensors.index.json nor"));
}

}  // namespace
}  // namespace drivelm::engine
