#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::core {

/// Standard base64 (RFC 4648, with padding), for data: URIs in self-contained HTML.
std::string base64(std::string_view bytes);

/// A PNG file (8-bit, no interlace) of `height` rows of `width` pixels, `channels` = 1 (grey)
/// or 3 (RGB), row-major interleaved, compressed with zlib. For small figures in reports that
/// must not depend on OpenCV.
std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels);

}  // namespace rampart::core
