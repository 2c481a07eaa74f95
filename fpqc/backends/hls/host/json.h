// json.h -- a small JSON reader for the build's manifest, schedule and configuration.
//
// Every value remembers where it came from ("host_schedule.json: kernels[0].ports[3].name"),
// so a missing key or a wrong type is one error naming the file and the place.
#ifndef FPQC_HOST_JSON_H
#define FPQC_HOST_JSON_H

#include <string>
#include <utility>
#include <vector>

namespace fpqc_host {

class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  const std::string& where() const { return where_; }

  // Accessors: each throws a HostError naming this value's place when the type is wrong.
  bool boolean() const;
  double number() const;
  long long integer() const;  // a number without fraction or exponent
  const std::string& str() const;
  const std::vector<Json>& items() const;

  // Object members: `at` throws when `key` is missing, `find` returns nullptr.
  const Json& at(const std::string& key) const;
  const Json* find(const std::string& key) const;

  // Parse `text`; `source` names it in errors (a file name).
  static Json parse(const std::string& text, const std::string& source);

 private:
  friend class JsonParser;
  void expect(Kind kind, const char* what) const;

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0.0;
  long long integer_ = 0;
  bool is_integer_ = false;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
  std::string where_;
};

// The text of the file at `path`; HostError when it cannot be read.
std::string read_text_file(const std::string& path);

// The JSON document in the file at `path` (errors name `path`).
Json read_json_file(const std::string& path);

}  // namespace fpqc_host

#endif
