// json.cpp -- the JSON reader of json.h (RFC 8259, plus the NaN and Infinity that Python writes).
#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "error.h"

namespace fpqc_host {

namespace {

const char* kind_name(Json::Kind kind) {
  switch (kind) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return "a boolean";
    case Json::Kind::Number: return "a number";
    case Json::Kind::String: return "a string";
    case Json::Kind::Array: return "an array";
    case Json::Kind::Object: return "an object";
  }
  return "a value";
}

}  // namespace

// Recursive descent over the text; `source` and the path of keys name every value.
class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  Json document() {
    Json value = parse_value(source_ + ":");
    skip_space();
    if (pos_ != text_.size()) fail("text after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream message;
    message << source_ << ": not valid JSON at byte " << pos_ << " (" << what << "); recompile the model";
    throw HostError(message.str());
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool take(const char* word) {
    std::size_t n = std::char_traits<char>::length(word);
    if (text_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  Json parse_value(const std::string& where) {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    Json value;
    value.where_ = where;
    const char c = text_[pos_];
    if (c == '{') {
      value.kind_ = Json::Kind::Object;
      ++pos_;
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == '}') { ++pos_; return value; }
      while (true) {
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a key");
        std::string key = parse_string();
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != ':') fail("expected ':'");
        ++pos_;
        const std::string child = (where.back() == ':' ? where + " " : where + ".") + key;
        value.members_.emplace_back(key, parse_value(child));
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < text_.size() && text_[pos_] == '}') { ++pos_; return value; }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      value.kind_ = Json::Kind::Array;
      ++pos_;
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ']') { ++pos_; return value; }
      while (true) {
        const std::string child = where + "[" + std::to_string(value.items_.size()) + "]";
        value.items_.push_back(parse_value(child));
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < text_.size() && text_[pos_] == ']') { ++pos_; return value; }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      value.kind_ = Json::Kind::String;
      value.string_ = parse_string();
      return value;
    }
    if (take("true")) { value.kind_ = Json::Kind::Bool; value.bool_ = true; return value; }
    if (take("false")) { value.kind_ = Json::Kind::Bool; return value; }
    if (take("null")) return value;
    value.kind_ = Json::Kind::Number;
    if (take("NaN")) { value.number_ = std::numeric_limits<double>::quiet_NaN(); return value; }
    if (take("Infinity")) { value.number_ = std::numeric_limits<double>::infinity(); return value; }
    if (take("-Infinity")) { value.number_ = -std::numeric_limits<double>::infinity(); return value; }
    parse_number(value);
    return value;
  }

  void parse_number(Json& value) {
    const std::size_t start = pos_;
    bool integral = true;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    const std::size_t digits = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == digits) fail("expected a value");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integral = false;
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    }
    const std::string literal = text_.substr(start, pos_ - start);
    value.number_ = std::strtod(literal.c_str(), nullptr);
    if (integral) {
      errno = 0;
      value.integer_ = std::strtoll(literal.c_str(), nullptr, 10);
      value.is_integer_ = errno == 0;
    }
  }

  void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > text_.size()) fail("short \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return code;
  }

  std::string parse_string() {
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') { out += c; continue; }
      if (pos_ >= text_.size()) fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code = parse_hex4();
          if (code >= 0xD800 && code < 0xDC00 && take("\\u")) {
            const unsigned low = parse_hex4();
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  const std::string& text_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

void Json::expect(Kind kind, const char* what) const {
  if (kind_ != kind)
    throw HostError(where_ + " should be " + what + ", found " + kind_name(kind_) + "; recompile the model");
}

bool Json::boolean() const {
  expect(Kind::Bool, "a boolean");
  return bool_;
}

double Json::number() const {
  expect(Kind::Number, "a number");
  return number_;
}

long long Json::integer() const {
  expect(Kind::Number, "an integer");
  if (!is_integer_) throw HostError(where_ + " should be an integer; recompile the model");
  return integer_;
}

const std::string& Json::str() const {
  expect(Kind::String, "a string");
  return string_;
}

const std::vector<Json>& Json::items() const {
  expect(Kind::Array, "an array");
  return items_;
}

const Json* Json::find(const std::string& key) const {
  expect(Kind::Object, "an object");
  for (const auto& member : members_)
    if (member.first == key) return &member.second;
  return nullptr;
}

const Json& Json::at(const std::string& key) const {
  const Json* value = find(key);
  if (value == nullptr) throw HostError(where_ + " has no \"" + key + "\"; recompile the model");
  return *value;
}

Json Json::parse(const std::string& text, const std::string& source) { return JsonParser(text, source).document(); }

std::string read_text_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw HostError(path + ": cannot open it");
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) throw HostError(path + ": cannot read it");
  return text.str();
}

Json read_json_file(const std::string& path) { return Json::parse(read_text_file(path), path); }

}  // namespace fpqc_host
