#include "engine/model/safetensors_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

// The Python library's order (its Rust Dtype enum, descending): I64, F32, I32, BF16, F16. Larger
// elements come first, and the files come out byte-identical to the library's.
int WriteOrder(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kI64:
      return 0;
    case SafetensorsDType::kF32:
      return 1;
    case SafetensorsDType::kI32:
      return 2;
    case SafetensorsDType::kBF16:
      return 3;
    case SafetensorsDType::kF16:
      return 4;
  }
  return 5;
}

}  // namespace

absl::Status SafetensorsWriter::Add(const std::string& name, SafetensorsDType dtype, const Shape& shape,
                                    const void* data, size_t nbytes) {
  if (name.empty()) return absl::InvalidArgumentError("safetensors writer: empty tensor name");
  if (name == "__metadata__") {
    return absl::InvalidArgumentError("safetensors writer: \"__metadata__\" is reserved, not a tensor name");
  }
  if (tensors_.count(name)) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors writer: tensor '", name, "' added twice"));
  }
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors writer: tensor '", name, "' has negative dimension in ", ShapeToString(shape)));
    }
  }
  const size_t expected = static_cast<size_t>(NumElements(shape)) * SafetensorsDTypeSize(dtype);
  if (nbytes != expected) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors writer: tensor '", name, "' ",
                                                   SafetensorsDTypeName(dtype), ShapeToString(shape), " needs ",
                                                   expected, " bytes, got ", nbytes));
  }
  Pending p{dtype, shape, std::string(static_cast<const char*>(data), nbytes)};
  tensors_.emplace(name, std::move(p));
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::AddF32(const std::string& name, const Shape& shape,
                                       const std::vector<float>& values) {
  return Add(name, SafetensorsDType::kF32, shape, values.data(), values.size() * sizeof(float));
}

void SafetensorsWriter::SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

std::string SafetensorsWriter::Header(std::vector<const std::pair<const std::string, Pending>*>* order) const {
  order->clear();
  for (const auto& kv : tensors_) order->push_back(&kv);
  // By dtype (largest elements first), then name: each tensor starts at a multiple of its element size.
  std::stable_sort(order->begin(), order->end(), [](const auto* a, const auto* b) {
    return WriteOrder(a->second.dtype) < WriteOrder(b->second.dtype);
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& kv : metadata_) meta[kv.first] = kv.second;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto* kv : *order) {
    const Pending& p = kv->second;
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = SafetensorsDTypeName(p.dtype);
    entry["shape"] = p.shape;
    entry["data_offsets"] = {offset, offset + p.bytes.size()};
    header[kv->first] = std::move(entry);
    offset += p.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);  // little-endian
  out += text;
  return out;
}

std::string SafetensorsWriter::Serialize() const {
  std::vector<const std::pair<const std::string, Pending>*> order;
  std::string out = Header(&order);
  for (const auto* kv : order) out += kv->second.bytes;
  return out;
}

absl::Status SafetensorsWriter::WriteFile(const std::string& path) const {
  std::vector<const std::pair<const std::string, Pending>*> order;
  const std::string header = Header(&order);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto* kv : order) f.write(kv->second.bytes.data(), static_cast<std::streamsize>(kv->second.bytes.size()));
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace drivelm::engine
