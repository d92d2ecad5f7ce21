// Includes SentencePiece and never abseil: see sentencepiece_model.h.
#include "engine/tokenizer/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

namespace drivelm::engine {
namespace {

std::unique_ptr<SentencePieceModel> Fail(SentencePieceModel::LoadError code, std::string text,
                                         SentencePieceModel::LoadError* error,
                                         std::string* message) {
  *error = code;
  *message = std::move(text);
  return nullptr;
}

}  // namespace

SentencePieceModel::SentencePieceModel(
    std::unique_ptr<sentencepiece::SentencePieceProcessor> processor)
    : processor_(std::move(processor)) {}

SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::LoadFile(const std::string& path,
                                                                 LoadError* error,
                                                                 std::string* message) {
  // Read the bytes here rather than through SentencePieceProcessor::Load so that "cannot open"
  // and "not a model" are told apart without parsing libsentencepiece's messages.
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(LoadError::kNotFound, "cannot open file", error, message);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return Fail(LoadError::kNotFound, "cannot read file", error, message);
  return LoadSerialized(bytes.str(), error, message);
}

std::unique_ptr<SentencePieceModel> SentencePieceModel::LoadSerialized(std::string_view bytes,
                                                                       LoadError* error,
                                                                       std::string* message) {
  try {
    if (bytes.empty()) return Fail(LoadError::kInvalid, "the file is empty", error, message);
    auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const sentencepiece::util::Status status = processor->LoadFromSerializedProto(bytes);
    if (!status.ok()) {
      return Fail(LoadError::kInvalid, status.ToString(), error, message);
    }
    if (processor->GetPieceSize() <= 0) {
      return Fail(LoadError::kInvalid, "the model has no pieces", error, message);
    }
    *error = LoadError::kNone;
    message->clear();
    return std::unique_ptr<SentencePieceModel>(new SentencePieceModel(std::move(processor)));
  } catch (const std::exception& e) {
    return Fail(LoadError::kInvalid, std::string("libsentencepiece threw: ") + e.what(), error,
                message);
  } catch (...) {
    return Fail(LoadError::kInvalid, "libsentencepiece threw an unknown exception", error,
                message);
  }
}

int SentencePieceModel::PieceCount() const { return processor_->GetPieceSize(); }

std::string SentencePieceModel::IdToPiece(int id) const { return processor_->IdToPiece(id); }

int SentencePieceModel::PieceToId(std::string_view piece) const {
  // PieceToId answers unk_id for unknown strings; tell "is <unk>" from "not a piece".
  const int id = processor_->PieceToId(piece);
  if (id < 0 || id >= processor_->GetPieceSize()) return -1;
  return processor_->IdToPiece(id) == piece ? id : -1;
}

bool SentencePieceModel::IsControl(int id) const { return processor_->IsControl(id); }
bool SentencePieceModel::IsUnknown(int id) const { return processor_->IsUnknown(id); }
bool SentencePieceModel::IsByte(int id) const { return processor_->IsByte(id); }
bool SentencePieceModel::IsUnused(int id) const { return processor_->IsUnused(id); }
int SentencePieceModel::bos_id() const { return processor_->bos_id(); }
int SentencePieceModel::eos_id() const { return processor_->eos_id(); }
int SentencePieceModel::pad_id() const { return processor_->pad_id(); }
int SentencePieceModel::unk_id() const { return processor_->unk_id(); }

bool SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids,
                                std::string* message) const {
  try {
    const sentencepiece::util::Status status = processor_->Encode(text, ids);
    if (!status.ok()) *message = status.ToString();
    return status.ok();
  } catch (const std::exception& e) {
    *message = std::string("libsentencepiece threw: ") + e.what();
    return false;
  }
}

bool SentencePieceModel::Decode(const std::vector<int>& ids, std::string* text,
                                std::string* message) const {
  try {
    const sentencepiece::util::Status status = processor_->Decode(ids, text);
    if (!status.ok()) *message = status.ToString();
    return status.ok();
  } catch (const std::exception& e) {
    *message = std::string("libsentencepiece threw: ") + e.what();
    return false;
  }
}

}  // namespace drivelm::engine
