#include "engine/model/safetensors_file.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

using nlohmann::json;

// The Python library refuses headers above 100 MB; so do we, before parsing anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors file ", path, ": ", what));
}

absl::Status BadTensor(const std::string& path, const std::string& tensor, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors file ", path, ", tensor '", tensor, "': ", what));
}

// A tensor before its data pointer is known.
struct Entry {
  SafetensorsTensor tensor;
  uint64_t begin;  // within the data area
  uint64_t end;
};

absl::StatusOr<Entry> ParseEntry(const std::string& path, const std::string& name, const json& value,
                                 uint64_t data_size) {
  if (!value.is_object()) return BadTensor(path, name, "entry is not a JSON object");

  auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) {
    return BadTensor(path, name, "missing or non-string \"dtype\"");
  }
  std::string dtype_name = dtype_it->get<std::string>();
  std::optional<SafetensorsDType> dtype = ParseSafetensorsDType(dtype_name);
  if (!dtype) {
    return BadTensor(path, name,
                     absl::StrCat("unsupported dtype \"", dtype_name, "\" (supported: F32, F16, BF16, I32, I64)"));
  }

  auto shape_it = value.find("shape");
  if (shape_it == value.end() || !shape_it->is_array()) {
    return BadTensor(path, name, "missing or non-array \"shape\"");
  }
  Shape shape;
  uint64_t numel = 1;
  bool numel_overflow = false;
  for (const json& d : *shape_it) {
    if (!d.is_number_unsigned()) {
      return BadTensor(path, name, absl::StrCat("shape ", shape_it->dump(), " has a dimension that is not a non-negative integer"));
    }
    uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(INT64_MAX)) {
      return BadTensor(path, name, absl::StrCat("dimension ", dim, " is too large"));
    }
    shape.push_back(static_cast<int64_t>(dim));
    if (__builtin_mul_overflow(numel, dim, &numel)) numel_overflow = true;
  }
  uint64_t expected_bytes = 0;
  if (numel_overflow || __builtin_mul_overflow(numel, SafetensorsDTypeSize(*dtype), &expected_bytes)) {
    return BadTensor(path, name, absl::StrCat("shape ", ShapeToString(shape), " is too large"));
  }

  auto off_it = value.find("data_offsets");
  if (off_it == value.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
      !(*off_it)[1].is_number_unsigned()) {
    return BadTensor(path, name, "\"data_offsets\" must be two non-negative integers");
  }
  uint64_t begin = (*off_it)[0].get<uint64_t>();
  uint64_t end = (*off_it)[1].get<uint64_t>();
  if (begin > end) {
    return BadTensor(path, name, absl::StrCat("data_offsets [", begin, ", ", end, "] are reversed"));
  }
  if (end > data_size) {
    return BadTensor(path, name,
                     absl::StrCat("data_offsets [", begin, ", ", end, "] run past the data area of ", data_size,
                                  " bytes (file truncated?)"));
  }
  if (end - begin != expected_bytes) {
    return BadTensor(path, name,
                     absl::StrCat("data_offsets [", begin, ", ", end, "] hold ", end - begin, " bytes but ",
                                  dtype_name, ShapeToString(shape), " needs ", expected_bytes));
  }
  Entry e;
  e.tensor.name = name;
  e.tensor.dtype = *dtype;
  e.tensor.shape = std::move(shape);
  e.tensor.data = nullptr;
  e.tensor.nbytes = static_cast<size_t>(expected_bytes);
  e.begin = begin;
  e.end = end;
  return e;
}

absl::StatusOr<std::vector<SafetensorsTensor>> ParseHeader(const MappedFile& file) {
  const std::string& path = file.path();
  if (file.size() < 8) {
    return Bad(path, absl::StrCat("file has ", file.size(), " bytes, too few for the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file.data()[i];  // little-endian
  if (header_len > file.size() - 8) {
    return Bad(path, absl::StrCat("header length ", header_len, " runs past the end of the file (", file.size(),
                                  " bytes)"));
  }
  if (header_len > kMaxHeaderBytes) {
    return Bad(path, absl::StrCat("header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes));
  }
  const char* header_begin = reinterpret_cast<const char*>(file.data() + 8);
  json header = json::parse(header_begin, header_begin + header_len, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Bad(path, "header is not valid JSON");
  if (!header.is_object()) return Bad(path, "header is not a JSON object");

  const uint64_t data_begin = 8 + header_len;
  const uint64_t data_size = file.size() - data_begin;
  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    absl::StatusOr<Entry> e = ParseEntry(path, it.key(), it.value(), data_size);
    if (!e.ok()) return e.status();
    entries.push_back(*std::move(e));
  }

  // Overlap check over non-empty tensors in offset order; empty tensors may sit anywhere.
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) {
    if (e.end > e.begin) by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return BadTensor(path, by_offset[i]->tensor.name,
                       absl::StrCat("data_offsets [", by_offset[i]->begin, ", ", by_offset[i]->end,
                                    "] overlap those of tensor '", by_offset[i - 1]->tensor.name, "' [",
                                    by_offset[i - 1]->begin, ", ", by_offset[i - 1]->end, "]"));
    }
  }

  std::vector<SafetensorsTensor> tensors;
  tensors.reserve(entries.size());
  for (Entry& e : entries) {
    e.tensor.data = file.data() + data_begin + e.begin;
    tensors.push_back(std::move(e.tensor));
  }
  std::sort(tensors.begin(), tensors.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.name < b.name; });
  return tensors;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapping = MappedFile::Open(path);
  if (!mapping.ok()) return mapping.status();
  absl::StatusOr<std::vector<SafetensorsTensor>> tensors;
  try {
    tensors = ParseHeader(**mapping);
  } catch (const std::exception& e) {  // nlohmann accessors; the checks above should leave none
    return Bad(path, absl::StrCat("malformed header: ", e.what()));
  }
  if (!tensors.ok()) return tensors.status();
  return std::unique_ptr<SafetensorsFile>(new SafetensorsFile(*std::move(mapping), *std::move(tensors)));
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const SafetensorsTensor& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace drivelm::engine
