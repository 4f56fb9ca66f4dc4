// Strict reads of integers from parsed JSON. nlohmann's get<T>() converts a float or an
// out-of-range number silently (undefined behaviour for floats too large for T); stored
// formats must instead reject such a value, so these throw std::invalid_argument, which
// the parsers turn into a Corruption status naming the object.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

template <typename T>
T JsonInt(const nlohmann::json& v, const char* what = "value") {
  static_assert(std::is_integral_v<T>);
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const auto s = v.get<int64_t>();
    if (std::in_range<T>(s)) return static_cast<T>(s);
  } else {
    throw std::invalid_argument(std::string(what) + " is not an integer");
  }
  throw std::invalid_argument(std::string(what) + " is out of range");
}

// The integer at `key`, which must be present.
template <typename T>
T RequiredInt(const nlohmann::json& object, const char* key) {
  return JsonInt<T>(object.at(key), key);
}

// The integer at `key`, or `fallback` when the key is absent.
template <typename T>
T OptionalInt(const nlohmann::json& object, const char* key, T fallback) {
  auto it = object.find(key);
  return it == object.end() ? fallback : JsonInt<T>(*it, key);
}

// `j` as text (indented by `indent`, compact when -1). Strings that are not UTF-8 (a Big5
// file name, say) are written with U+FFFD where nlohmann would throw: for what is shown
// or labelled; what must round-trip exactly carries the bytes separately.
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename T>
std::vector<T> IntArray(const nlohmann::json& array, const char* what) {
  if (!array.is_array()) throw std::invalid_argument(std::string(what) + " is not an array");
  std::vector<T> out;
  out.reserve(array.size());
  for (const auto& v : array) out.push_back(JsonInt<T>(v, what));
  return out;
}

}  // namespace tessera
