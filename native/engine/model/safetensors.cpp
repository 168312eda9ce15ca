#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "common/json.h"

namespace vlac {

namespace {

// A header larger than this is not a model header (the real VLAC header is ~60 kB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DTypeName {
  const char* name;
  DType dtype;
  size_t size;
};
constexpr DTypeName kDTypes[] = {
    {"BF16", DType::BF16, 2}, {"F16", DType::F16, 2}, {"F32", DType::F32, 4}, {"F64", DType::F64, 8},
    {"I8", DType::I8, 1},     {"U8", DType::U8, 1},   {"I16", DType::I16, 2}, {"I32", DType::I32, 4},
    {"I64", DType::I64, 8},   {"BOOL", DType::BOOL, 1},
};

[[noreturn]] void bad(const std::string& label, const std::string& what) {
  fail(ErrorCode::BadWeights, label + ": " + what);
}

}  // namespace

const char* dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.name;
  return "?";
}

size_t dtype_size(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.size;
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::map<std::string, TensorView> SafetensorsFile::parse(const uint8_t* bytes, size_t size, const std::string& label,
                                                         std::map<std::string, std::string>* metadata) {
  if (size < 8) bad(label, "file is " + std::to_string(size) + " bytes, too short for a safetensors header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > size - 8)
    bad(label, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (header_len > kMaxHeaderBytes) bad(label, "header length " + std::to_string(header_len) + " is implausibly large");
  if (header_len < 2) bad(label, "header is empty");
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const json::exception& e) {
    bad(label, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) bad(label, "header is not a JSON object");

  const uint64_t data_size = size - 8 - header_len;
  const uint8_t* data = bytes + 8 + header_len;
  std::map<std::string, TensorView> tensors;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  std::vector<const std::string*> span_names;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) bad(label, "__metadata__ is not an object");
      if (metadata)
        for (auto m = e.begin(); m != e.end(); ++m)
          (*metadata)[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      continue;
    }
    const std::string where = label + ": tensor '" + name + "'";
    if (!e.is_object()) fail(ErrorCode::BadWeights, where + " entry is not an object");
    auto dt = e.find("dtype");
    if (dt == e.end() || !dt->is_string()) fail(ErrorCode::BadWeights, where + " has no dtype string");
    const std::string dname = dt->get<std::string>();
    const DTypeName* found = nullptr;
    for (const auto& d : kDTypes)
      if (dname == d.name) found = &d;
    if (!found) fail(ErrorCode::BadWeights, where + " has unknown dtype '" + dname + "'");
    auto sh = e.find("shape");
    if (sh == e.end() || !sh->is_array()) fail(ErrorCode::BadWeights, where + " has no shape array");
    TensorView view;
    view.name = name;
    view.dtype = found->dtype;
    uint64_t numel = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        fail(ErrorCode::BadWeights, where + " has a shape entry that is not a non-negative integer");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim)
        fail(ErrorCode::BadWeights, where + " has a shape whose size overflows");
      numel *= dim;
      view.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = e.find("data_offsets");
    if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      fail(ErrorCode::BadWeights, where + " needs data_offsets [begin, end] of non-negative integers");
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end) fail(ErrorCode::BadWeights, where + " has data_offsets with begin > end");
    if (end > data_size)
      fail(ErrorCode::BadWeights, where + " spans bytes " + std::to_string(begin) + ".." + std::to_string(end) +
                                      " past the end of the data (" + std::to_string(data_size) +
                                      " bytes): the file is truncated");
    if (numel * found->size != end - begin)
      fail(ErrorCode::BadWeights, where + " has shape x dtype = " + std::to_string(numel * found->size) +
                                      " bytes but its data span is " + std::to_string(end - begin) + " bytes");
    view.data = data + begin;
    view.nbytes = static_cast<size_t>(end - begin);
    auto inserted = tensors.emplace(name, std::move(view));
    spans.emplace_back(begin, end);
    span_names.push_back(&inserted.first->first);
  }
  // Spans must not overlap (zero-length spans overlap nothing).
  std::vector<size_t> order(spans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return spans[a] < spans[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = spans[order[i - 1]];
    const auto& cur = spans[order[i]];
    if (cur.first < prev.second && cur.first != cur.second && prev.first != prev.second)
      bad(label, "tensors '" + *span_names[order[i - 1]] + "' and '" + *span_names[order[i]] + "' have overlapping data");
  }
  return tensors;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  tensors_ = parse(file_.data(), file_.size(), path, &metadata_);
}

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(ErrorCode::MissingTensor, path() + ": no tensor '" + name + "'");
  return it->second;
}

}  // namespace vlac
