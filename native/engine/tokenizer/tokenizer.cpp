#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "tokenizer/bpe.h"
#include "tokenizer/prefix_trie.h"
#include "tokenizer/utf8.h"

namespace vlac {

namespace {

constexpr const char* kModelFile = "tokenizer.model";
constexpr const char* kConfigFile = "tokenizer_config.json";
constexpr const char* kAddedTokensFile = "added_tokens.json";

struct AddedToken {
  std::string content;
  bool special = false;
};

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  fail(ErrorCode::BadTokenizer, file + ": " + what);
}

json parse_json(std::string_view text, const std::string& file) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    bad(file, std::string("invalid JSON: ") + e.what());
  }
}

// HF writes a token either as a string or as a serialized AddedToken {"content": ...}.
std::optional<std::string> token_name(const json& v, const std::string& file, const std::string& field) {
  if (v.is_null()) return std::nullopt;
  const json* content = &v;
  if (v.is_object()) {
    auto it = v.find("content");
    if (it == v.end()) bad(file, field + " has no \"content\"");
    content = &*it;
  }
  if (!content->is_string()) bad(file, field + " is not a string");
  std::string name = content->get<std::string>();
  if (name.empty()) bad(file, field + " is empty");
  return name;
}

// A decimal token id as written in added_tokens_decoder's keys.
int32_t parse_id(const std::string& key, const std::string& file) {
  if (key.empty() || key.size() > 10 || key.find_first_not_of("0123456789") != std::string::npos)
    bad(file, "added_tokens_decoder key \"" + key + "\" is not a token id");
  const long long v = std::stoll(key);
  if (v > INT32_MAX) bad(file, "added_tokens_decoder key \"" + key + "\" is out of range");
  return static_cast<int32_t>(v);
}

}  // namespace

struct Tokenizer::Impl {
  explicit Impl(BpeModel model) : bpe(std::move(model)) {}

  BpeModel bpe;
  std::unordered_map<int32_t, AddedToken> added;  // by id
  std::unordered_map<std::string, int32_t> added_ids;  // by content
  PrefixTrie added_trie;
  int32_t vocab_size = 0;
  SpecialTokens special{};
  bool add_bos_token = true;
};

Tokenizer Tokenizer::load(const std::string& model_dir) {
  const MappedFile model(join_path(model_dir, kModelFile));
  const std::string config = read_text_file(join_path(model_dir, kConfigFile));
  const std::string added = read_text_file(join_path(model_dir, kAddedTokensFile));
  return from_parts(std::string_view(reinterpret_cast<const char*>(model.data()), model.size()), config, added,
                    model_dir);
}

Tokenizer Tokenizer::from_parts(std::string_view model_proto_bytes, std::string_view tokenizer_config_json,
                                std::string_view added_tokens_json, const std::string& label_for_errors) {
  const std::string model_file = join_path(label_for_errors, kModelFile);
  const std::string config_file = join_path(label_for_errors, kConfigFile);
  const std::string added_file = join_path(label_for_errors, kAddedTokensFile);

  auto impl = std::make_shared<Impl>(BpeModel(parse_sentencepiece_model(model_proto_bytes, model_file), model_file));
  const BpeModel& bpe = impl->bpe;
  const int32_t n_pieces = bpe.size();

  // id -> token, gathered from both files; a content may name only one id and vice versa.
  std::map<int32_t, AddedToken> tokens;
  std::unordered_map<std::string, int32_t> ids;
  auto add = [&](int32_t id, const std::string& content, bool special, const std::string& file) {
    auto by_id = tokens.find(id);
    if (by_id != tokens.end() && by_id->second.content != content)
      bad(file, "token id " + std::to_string(id) + " is both \"" + by_id->second.content + "\" and \"" + content + "\"");
    auto by_content = ids.find(content);
    if (by_content != ids.end() && by_content->second != id)
      bad(file, "token \"" + content + "\" has ids " + std::to_string(by_content->second) + " and " +
                    std::to_string(id));
    AddedToken& t = tokens[id];
    t.content = content;
    t.special = t.special || special;
    ids[content] = id;
  };

  const json config = parse_json(tokenizer_config_json, config_file);
  if (!config.is_object()) bad(config_file, "is not a JSON object");
  std::vector<std::string> special_names;  // named by the config's special-token fields
  try {
    if (auto it = config.find("added_tokens_decoder"); it != config.end()) {
      if (!it->is_object()) bad(config_file, "added_tokens_decoder is not an object");
      for (const auto& [key, value] : it->items()) {
        const int32_t id = parse_id(key, config_file);
        if (!value.is_object()) bad(config_file, "added_tokens_decoder[\"" + key + "\"] is not an object");
        const std::string field = "added_tokens_decoder[\"" + key + "\"].content";
        auto content = value.find("content");
        if (content == value.end()) bad(config_file, field + " is missing");
        const std::optional<std::string> name = token_name(*content, config_file, field);
        if (!name) bad(config_file, field + " is null");
        bool special = false;
        if (auto s = value.find("special"); s != value.end()) {
          if (!s->is_boolean()) bad(config_file, "added_tokens_decoder[\"" + key + "\"].special is not a boolean");
          special = s->get<bool>();
        }
        add(id, *name, special, config_file);
      }
    }
    if (auto it = config.find("add_bos_token"); it != config.end() && !it->is_null()) {
      if (!it->is_boolean()) bad(config_file, "add_bos_token is not a boolean");
      impl->add_bos_token = it->get<bool>();
    }
    for (const char* field : {"unk_token", "bos_token", "eos_token", "pad_token"})
      if (auto it = config.find(field); it != config.end())
        if (auto name = token_name(*it, config_file, field)) special_names.push_back(*name);
    if (auto it = config.find("additional_special_tokens"); it != config.end() && !it->is_null()) {
      if (!it->is_array()) bad(config_file, "additional_special_tokens is not an array");
      for (size_t i = 0; i < it->size(); ++i) {
        const std::string field = "additional_special_tokens[" + std::to_string(i) + "]";
        if (auto name = token_name((*it)[i], config_file, field)) special_names.push_back(*name);
      }
    }
  } catch (const json::exception& e) {
    bad(config_file, e.what());
  }

  const json added_tokens = parse_json(added_tokens_json, added_file);
  if (!added_tokens.is_object()) bad(added_file, "is not a JSON object");
  for (const auto& [content, value] : added_tokens.items()) {
    if (content.empty()) bad(added_file, "has an empty token");
    const bool in_range = value.is_number_unsigned() ? value.get<uint64_t>() <= INT32_MAX
                          : value.is_number_integer() ? value.get<int64_t>() >= 0 && value.get<int64_t>() <= INT32_MAX
                                                      : false;
    if (!in_range) bad(added_file, "the id of \"" + content + "\" is not a token id");
    add(static_cast<int32_t>(value.get<int64_t>()), content, false, added_file);
  }

  // Special-token fields name added tokens or sentencepiece pieces; HF never splits them either.
  for (const std::string& name : special_names) {
    auto it = ids.find(name);
    std::optional<int32_t> id = it != ids.end() ? std::optional<int32_t>(it->second) : bpe.piece_to_id(name);
    if (!id) bad(config_file, "special token \"" + name + "\" is neither an added token nor a sentencepiece piece");
    add(*id, name, true, config_file);
  }

  // Ids past the sentencepiece pieces must follow them without gaps, so every id below
  // vocab_size() means something.
  int32_t next = n_pieces;
  for (const auto& [id, token] : tokens) {
    if (id < n_pieces) continue;
    if (id != next)
      bad(added_file, "added token \"" + token.content + "\" has id " + std::to_string(id) + ", expected " +
                          std::to_string(next) + " (ids must continue the " + std::to_string(n_pieces) +
                          " sentencepiece pieces without gaps)");
    ++next;
  }
  impl->vocab_size = next;
  for (const auto& [id, token] : tokens) {
    impl->added_trie.insert(token.content, id);
    impl->added_ids[token.content] = id;
    impl->added[id] = token;
  }

  auto require = [&](const char* field, const char* fallback) {
    std::string name = fallback;
    if (field)
      if (auto it = config.find(field); it != config.end())
        if (auto n = token_name(*it, config_file, field)) name = *n;
    auto it = impl->added_ids.find(name);
    std::optional<int32_t> id = it != impl->added_ids.end() ? std::optional<int32_t>(it->second) : bpe.piece_to_id(name);
    if (!id) bad(config_file, "the tokenizer has no " + name + " token");
    return *id;
  };
  SpecialTokens& s = impl->special;
  s.unk = require("unk_token", "<unk>");
  s.bos = require("bos_token", "<s>");
  s.eos = require("eos_token", "</s>");
  s.im_start = require(nullptr, "<|im_start|>");
  s.im_end = require(nullptr, "<|im_end|>");
  s.img = require(nullptr, "<img>");
  s.img_end = require(nullptr, "</img>");
  s.img_context = require(nullptr, "<IMG_CONTEXT>");
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view utf8, bool bos) const {
  const Impl& m = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(utf8.size() / 3 + 2);
  if (bos) ids.push_back(m.special.bos);
  std::string sanitized;
  std::string_view text = utf8;
  if (!utf8::is_valid(text)) {
    sanitized = utf8::sanitize(text);
    text = sanitized;
  }
  size_t chunk = 0;
  for (size_t i = 0; i < text.size();) {
    int32_t id;
    const size_t n = m.added_trie.longest_prefix(text.substr(i), &id);
    if (n == 0) {
      ++i;
      continue;
    }
    if (i > chunk) m.bpe.encode(text.substr(chunk, i - chunk), ids);
    ids.push_back(id);
    i += n;
    chunk = i;
  }
  if (chunk < text.size()) m.bpe.encode(text.substr(chunk), ids);
  return ids;
}

std::string Tokenizer::decode(const int32_t* ids, size_t n, bool skip_special) const {
  const Impl& m = *impl_;
  if (n > 0 && ids == nullptr) fail(ErrorCode::BadArgument, "decode: ids is null");
  for (size_t k = 0; k < n; ++k)
    if (ids[k] < 0 || ids[k] >= m.vocab_size)
      fail(ErrorCode::BadArgument, "decode: token id " + std::to_string(ids[k]) + " at index " + std::to_string(k) +
                                       " is outside [0, " + std::to_string(m.vocab_size) + ")");
  std::string out;
  // Runs of sentencepiece ids, in order; with skip_special the dropped ids do not end a run.
  std::vector<int32_t> run;
  run.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    auto it = m.added.find(ids[k]);
    if (it == m.added.end()) {
      run.push_back(ids[k]);
      continue;
    }
    if (skip_special && it->second.special) continue;
    m.bpe.decode(run.data(), run.size(), out);
    run.clear();
    out += it->second.content;
  }
  m.bpe.decode(run.data(), run.size(), out);
  return utf8::is_valid(out) ? out : utf8::sanitize(out);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  const Impl& m = *impl_;
  if (id < 0 || id >= m.vocab_size)
    fail(ErrorCode::BadArgument, "token id " + std::to_string(id) + " is outside [0, " +
                                     std::to_string(m.vocab_size) + ")");
  auto it = m.added.find(id);
  if (it != m.added.end()) return it->second.content;
  return m.bpe.piece(id);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view piece) const {
  const Impl& m = *impl_;
  auto it = m.added_ids.find(std::string(piece));
  if (it != m.added_ids.end()) return it->second;
  return m.bpe.piece_to_id(piece);
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
const SpecialTokens& Tokenizer::special() const { return impl_->special; }
bool Tokenizer::add_bos_token() const { return impl_->add_bos_token; }

bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added.find(id);
  return it != impl_->added.end() && it->second.special;
}

}  // namespace vlac
