#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace rampart::core {

/// A shape for messages: "[3, 32, 32]".
inline std::string shape_text(c10::ArrayRef<int64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// A shape as NumPy writes it in .npy headers and messages: "(3, 32)", "(10,)", "()".
inline std::string python_shape_text(c10::ArrayRef<int64_t> shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace rampart::core
