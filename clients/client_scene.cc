#include "clients/client_scene.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace drivelm::clients {
namespace {

// `--name VALUE` or `--name=VALUE` at argv[*i]: the value (advancing *i past it), else nullopt.
// `missing` is set when the flag is last with no value.
std::optional<std::string> FlagValue(const std::string& name, int argc, char** argv, int* i,
                                     bool* missing) {
  const std::string arg = argv[*i];
  const std::string flag = "--" + name, flag_eq = "--" + name + "=";
  if (arg == flag) {
    if (*i + 1 >= argc) {
      *missing = true;
      return std::nullopt;
    }
    return std::string(argv[++*i]);
  }
  if (arg.rfind(flag_eq, 0) == 0) return arg.substr(flag_eq.size());
  return std::nullopt;
}

std::vector<std::string> SplitCommas(const std::string& value) {
  return absl::StrSplit(value, ',', absl::SkipWhitespace());
}

// The file's top level: an object of scenes. ordered_json keeps the file's order (frames are
// then replayed and written in it).
absl::StatusOr<nlohmann::ordered_json> ParseDriveLmRoot(std::string_view json_text,
                                                        const std::string& where) {
  nlohmann::ordered_json root =
      nlohmann::ordered_json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected an object {scene_token: {\"key_frames\": ...}}"));
  }
  return root;
}

absl::Status CheckScene(const nlohmann::ordered_json& scene, const std::string& scene_token,
                        const std::string& where) {
  if (!scene.is_object() || !scene.contains("key_frames") || !scene["key_frames"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": scene ", scene_token, ": expected an object with \"key_frames\""));
  }
  return absl::OkStatus();
}

// "tag": a list of ints ([2]) as the evaluation files have it, or a single int.
absl::Status ParseTags(const nlohmann::ordered_json& item, const std::string& at,
                       std::vector<int>* tags) {
  if (!item.contains("tag") || item["tag"].is_null()) return absl::OkStatus();
  const nlohmann::ordered_json& tag = item["tag"];
  if (tag.is_number_integer()) {
    tags->push_back(tag.get<int>());
    return absl::OkStatus();
  }
  if (tag.is_array()) {
    for (const nlohmann::ordered_json& t : tag) {
      if (!t.is_number_integer()) break;
      tags->push_back(t.get<int>());
    }
    if (tags->size() == tag.size()) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(at, ".tag: expected a list of integers (e.g. [2]), got ", tag.dump()));
}

// One key frame: images (relative to images_root), questions in the challenge's order with the
// challenge's ids, and their reference answers and tags when the file has them.
absl::StatusOr<ClientScene> FrameFromJson(const std::string& scene_token, const std::string& token,
                                          const nlohmann::ordered_json& frame,
                                          const std::string& where,
                                          const std::string& images_root) {
  const std::string at = absl::StrCat(where, ": frame ", token);
  if (!frame.is_object() || !frame.contains("QA") || !frame["QA"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": expected an object with \"QA\""));
  }
  if (!frame.contains("image_paths") || !frame["image_paths"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, ": expected \"image_paths\" {CAMERA: path}"));
  }
  ClientScene out;
  out.scene_id = absl::StrCat(scene_token, "_", token);
  for (const auto& [camera, path] : frame["image_paths"].items()) {
    if (!path.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ": image_paths.", camera, ": expected a string"));
    }
    const std::string p = path.get<std::string>();
    out.images.push_back(
        {camera, !p.empty() && p[0] == '/' ? p : absl::StrCat(images_root, "/", p)});
  }
  const nlohmann::ordered_json& qa = frame["QA"];
  const std::vector<std::string>& stages = DriveLmStages();
  for (const auto& [stage, items] : qa.items()) {
    if (std::find(stages.begin(), stages.end(), stage) == stages.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at, ": QA.", stage, ": unknown stage; expected ", absl::StrJoin(stages, ", ")));
    }
  }
  for (const std::string& stage : stages) {
    if (!qa.contains(stage)) continue;
    const nlohmann::ordered_json& items = qa[stage];
    if (!items.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": QA.", stage, ": expected a list"));
    }
    for (size_t k = 0; k < items.size(); ++k) {
      const nlohmann::ordered_json& item = items[k];
      const std::string item_at = absl::StrCat(at, ": QA.", stage, "[", k, "]");
      if (!item.is_object() || !item.contains("Q") || !item["Q"].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(item_at, ": expected an object with \"Q\""));
      }
      ClientQuestion q;
      q.id = absl::StrCat(scene_token, "_", token, "_", out.questions.size());
      q.text = item["Q"].get<std::string>();
      q.stage = stage;
      if (item.contains("A") && !item["A"].is_null()) {
        if (!item["A"].is_string()) {
          return absl::InvalidArgumentError(absl::StrCat(item_at, ".A: expected a string"));
        }
        q.has_answer = true;
        q.answer = item["A"].get<std::string>();
      }
      if (absl::Status s = ParseTags(item, item_at, &q.tags); !s.ok()) return s;
      out.questions.push_back(std::move(q));
    }
  }
  if (out.questions.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": has no questions"));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& DriveLmStages() {
  static const std::vector<std::string>* const stages =
      new std::vector<std::string>{"perception", "prediction", "planning", "behavior"};
  return *stages;
}

absl::StatusOr<ClientScene> TakeSceneFlags(int* argc, char** argv) {
  ClientScene scene;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::string(argv[i]) == "--") {  // end of flags: keep the rest as is
      for (; i < *argc; ++i) argv[out++] = argv[i];
      break;
    }
    bool missing = false;
    const int at = i;
    if (std::optional<std::string> v = FlagValue("image", *argc, argv, &i, &missing)) {
      for (const std::string& spec : SplitCommas(*v)) {
        const size_t eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("--image must be CAMERA=PATH (e.g. CAM_FRONT=front.jpg), not '", spec,
                           "'"));
        }
        scene.images.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
      }
    } else if (std::optional<std::string> q = FlagValue("question", *argc, argv, &i, &missing)) {
      if (q->empty()) return absl::InvalidArgumentError("--question must not be empty");
      ClientQuestion question;
      question.id = absl::StrCat("q", scene.questions.size());
      question.text = *q;
      scene.questions.push_back(std::move(question));
    } else if (std::optional<std::string> d =
                   FlagValue("depends_on", *argc, argv, &i, &missing)) {
      if (scene.questions.empty()) {
        return absl::InvalidArgumentError(
            "--depends_on applies to the --question before it, but none was given yet");
      }
      ClientQuestion& question = scene.questions.back();
      const size_t index = scene.questions.size() - 1;
      for (const std::string& ref : SplitCommas(*d)) {
        // An index (0) or an id (q0) of an earlier question.
        size_t parent = 0;
        const bool numeric = absl::SimpleAtoi(ref, &parent);
        const bool id_form =
            !numeric && ref.size() > 1 && ref[0] == 'q' && absl::SimpleAtoi(ref.substr(1), &parent);
        if ((!numeric && !id_form) || parent >= index) {
          return absl::InvalidArgumentError(absl::StrCat(
              "--depends_on of question ", question.id, ": '", ref,
              "' is not an earlier question (use the id q0..q", index == 0 ? 0 : index - 1,
              " or its index)", index == 0 ? "; the first question cannot depend on any" : ""));
        }
        const std::string parent_id = absl::StrCat("q", parent);
        if (std::find(question.depends_on.begin(), question.depends_on.end(), parent_id) ==
            question.depends_on.end()) {
          question.depends_on.push_back(parent_id);
        }
      }
    } else if (std::optional<std::string> s = FlagValue("stage", *argc, argv, &i, &missing)) {
      if (scene.questions.empty()) {
        return absl::InvalidArgumentError(
            "--stage applies to the --question before it, but none was given yet");
      }
      const std::vector<std::string>& stages = DriveLmStages();
      if (std::find(stages.begin(), stages.end(), *s) == stages.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--stage must be one of ", absl::StrJoin(stages, ", "), ", not '", *s, "'"));
      }
      scene.questions.back().stage = *s;
    } else if (std::optional<std::string> t = FlagValue("stop", *argc, argv, &i, &missing)) {
      if (t->empty()) return absl::InvalidArgumentError("--stop must not be empty");
      scene.stop.push_back(*t);
    } else if (missing) {
      return absl::InvalidArgumentError(absl::StrCat(argv[at], " needs a value"));
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return scene;
}

absl::StatusOr<ClientScene> ParseDriveLmFrame(std::string_view json_text, std::string_view source,
                                              const std::string& frame_token,
                                              const std::string& images_root) {
  const std::string where(source);
  absl::StatusOr<nlohmann::ordered_json> root = ParseDriveLmRoot(json_text, where);
  if (!root.ok()) return root.status();
  std::vector<std::string> some_frames;  // for the not-found message
  for (const auto& [scene_token, scene] : root->items()) {
    if (absl::Status s = CheckScene(scene, scene_token, where); !s.ok()) return s;
    for (const auto& [token, frame] : scene["key_frames"].items()) {
      if (token != frame_token) {
        if (some_frames.size() < 5) some_frames.push_back(token);
        continue;
      }
      return FrameFromJson(scene_token, token, frame, where, images_root);
    }
  }
  return absl::NotFoundError(absl::StrCat(where, ": no key frame ", frame_token,
                                          some_frames.empty() ? "" : "; frames include ",
                                          absl::StrJoin(some_frames, ", ")));
}

absl::StatusOr<std::vector<ClientScene>> ParseDriveLmFile(std::string_view json_text,
                                                          std::string_view source,
                                                          const std::string& images_root) {
  const std::string where(source);
  absl::StatusOr<nlohmann::ordered_json> root = ParseDriveLmRoot(json_text, where);
  if (!root.ok()) return root.status();
  std::vector<ClientScene> frames;
  for (const auto& [scene_token, scene] : root->items()) {
    if (absl::Status s = CheckScene(scene, scene_token, where); !s.ok()) return s;
    for (const auto& [token, frame] : scene["key_frames"].items()) {
      absl::StatusOr<ClientScene> parsed =
          FrameFromJson(scene_token, token, frame, where, images_root);
      if (!parsed.ok()) return parsed.status();
      frames.push_back(*std::move(parsed));
    }
  }
  if (frames.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": no key frames"));
  return frames;
}

absl::StatusOr<ClientScene> LoadDriveLmFrame(const std::string& json_path,
                                             const std::string& frame_token,
                                             const std::string& images_root) {
  std::ifstream file(json_path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read DriveLM file ", json_path));
  std::stringstream text;
  text << file.rdbuf();
  return ParseDriveLmFrame(text.str(), json_path, frame_token, images_root);
}

absl::StatusOr<std::vector<ClientScene>> LoadDriveLmFile(const std::string& json_path,
                                                         const std::string& images_root) {
  std::ifstream file(json_path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read DriveLM file ", json_path));
  std::stringstream text;
  text << file.rdbuf();
  return ParseDriveLmFile(text.str(), json_path, images_root);
}

}  // namespace drivelm::clients
