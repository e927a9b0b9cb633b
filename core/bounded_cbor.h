#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace rampart::core {

/// CBOR bytes from another process (a sandboxed worker, another rank) as JSON, refusing nesting
/// deeper than `max_depth`. nlohmann's reader recurses once per level: a million nested arrays
/// (a few MB) overflow the reader's stack and kill the trusted process. Throws
/// std::invalid_argument for too deep a value, nlohmann::json::exception for malformed CBOR.
inline nlohmann::json parse_bounded_cbor(std::string_view bytes, int max_depth = 16) {
  using json = nlohmann::json;
  struct Bounded : nlohmann::json_sax<json> {
    explicit Bounded(json& out, int limit) : dom(out, true), limit(limit) {}
    bool null() override { return dom.null(); }
    bool boolean(bool v) override { return dom.boolean(v); }
    bool number_integer(number_integer_t v) override { return dom.number_integer(v); }
    bool number_unsigned(number_unsigned_t v) override { return dom.number_unsigned(v); }
    bool number_float(number_float_t v, const string_t& s) override { return dom.number_float(v, s); }
    bool string(string_t& v) override { return dom.string(v); }
    bool binary(binary_t& v) override { return dom.binary(v); }
    bool start_object(std::size_t n) override { return deeper() && dom.start_object(n); }
    bool key(string_t& v) override { return dom.key(v); }
    bool end_object() override { --depth; return dom.end_object(); }
    bool start_array(std::size_t n) override { return deeper() && dom.start_array(n); }
    bool end_array() override { --depth; return dom.end_array(); }
    bool parse_error(std::size_t at, const std::string& token,
                     const nlohmann::detail::exception& e) override {
      return dom.parse_error(at, token, e);
    }
    bool deeper() {
      too_deep = ++depth > limit;
      return !too_deep;
    }
    nlohmann::detail::json_sax_dom_parser<json> dom;
    int limit, depth = 0;
    bool too_deep = false;
  };
  json out;
  Bounded sax(out, max_depth);
  const bool ok = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::cbor);
  if (sax.too_deep) {
    throw std::invalid_argument("nests values deeper than " + std::to_string(max_depth) + " levels");
  }
  if (!ok) throw std::invalid_argument("is not CBOR");
  return out;
}

}  // namespace rampart::core
