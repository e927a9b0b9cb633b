#include "defenses/input_transforms.h"

#include <ATen/ATen.h>
#include "core/parallel_for.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "core/error.h"

#ifdef RAMPART_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace rampart::defenses {

at::Tensor reduce_bit_depth(const at::Tensor& x, int64_t bits, double lo, double hi) {
  const double levels = std::pow(2.0, static_cast<double>(bits)) - 1.0;
  const double width = hi - lo;
  return at::round((x - lo) * (levels / width)) * (width / levels) + lo;
}

namespace {

// Source indices of positions -before .. n-1+after along an axis of length n under scipy's
// 'reflect' mode (symmetric: the edge value repeats), periodic with period 2n.
at::Tensor reflect_indices(int64_t n, int64_t before, int64_t after, const at::Device& device) {
  std::vector<int64_t> out;
  for (int64_t i = -before; i < n + after; ++i) {
    int64_t j = ((i % (2 * n)) + 2 * n) % (2 * n);
    out.push_back(j < n ? j : 2 * n - 1 - j);
  }
  return at::tensor(out, at::TensorOptions().dtype(at::kLong)).to(device);
}

}  // namespace

// Reference: scipy.ndimage.median_filter(x, size, mode='reflect'), as EvadeML-Zoo's
// median_filter_np calls it (rank size*size // 2, origin 0: the window spans offsets
// -(size // 2) .. (size - 1) // 2).
at::Tensor median_smooth(const at::Tensor& x, int64_t size) {
  const int64_t before = size / 2;
  const int64_t after = size - 1 - before;
  const at::Tensor padded =
      x.index_select(2, reflect_indices(x.size(2), before, after, x.device()))
          .index_select(3, reflect_indices(x.size(3), before, after, x.device()));
  const at::Tensor windows = padded.unfold(2, size, 1).unfold(3, size, 1);
  return std::get<0>(windows.reshape({x.size(0), x.size(1), x.size(2), x.size(3), size * size})
                         .kthvalue(size * size / 2 + 1, -1));
}

bool jpeg_available() {
#ifdef RAMPART_HAVE_OPENCV
  return true;
#else
  return false;
#endif
}

at::Tensor jpeg_reencode(const at::Tensor& x, int64_t quality, double lo, double hi) {
#ifndef RAMPART_HAVE_OPENCV
  (void)x, (void)quality, (void)lo, (void)hi;
  throw ConfigError("the jpeg transform needs OpenCV, and this Rampart was built without it");
#else
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (c != 1 && c != 3) {
    throw ConfigError("the jpeg transform needs 1 or 3 channels, the input has " +
                      std::to_string(c));
  }
  at::NoGradGuard no_grad;
  // [N, H, W, C] bytes, contiguous on the CPU: one OpenCV image per sample.
  const at::Tensor bytes = ((x.detach().to(at::kCPU, at::kFloat) - lo) * (255.0 / (hi - lo)))
                               .round()
                               .clamp(0, 255)
                               .to(at::kByte)
                               .permute({0, 2, 3, 1})
                               .contiguous();
  at::Tensor decoded = at::empty_like(bytes);
  const std::vector<int> params{cv::IMWRITE_JPEG_QUALITY, static_cast<int>(quality)};
  const int type = c == 1 ? CV_8UC1 : CV_8UC3;
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    std::vector<uchar> buffer;
    for (int64_t i = begin; i < end; ++i) {
      cv::Mat image(static_cast<int>(h), static_cast<int>(w), type, bytes[i].data_ptr<uint8_t>());
      cv::Mat bgr = image;
      if (c == 3) cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
      cv::Mat out;
      if (cv::imencode(".jpg", bgr, buffer, params)) out = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
      if (out.empty() || out.rows != h || out.cols != w || out.channels() != c) {
        // at::parallel_for rethrows a worker's exception in the caller.
        throw std::runtime_error("OpenCV could not re-encode a " + std::to_string(h) + "x" +
                                 std::to_string(w) + " image as JPEG");
      }
      if (c == 3) cv::cvtColor(out, out, cv::COLOR_BGR2RGB);
      cv::Mat target(static_cast<int>(h), static_cast<int>(w), type,
                     decoded[i].data_ptr<uint8_t>());
      out.copyTo(target);
    }
  });
  return (decoded.permute({0, 3, 1, 2}).to(x.scalar_type()) * ((hi - lo) / 255.0) + lo)
      .to(x.device());
#endif
}

InputTransform::InputTransform(models::TransformSpec spec, double lo, double hi)
    : spec_(std::move(spec)), lo_(lo), hi_(hi) {
  if (spec_.name == "jpeg" && !jpeg_available()) {
    throw ConfigError("model.transforms: jpeg needs OpenCV, and this Rampart was built without it");
  }
}

at::Tensor add_gaussian_noise(const at::Tensor& x, double sigma, double lo, double hi) {
  at::Tensor noise;
  {
    at::NoGradGuard no_grad;
    noise = at::randn_like(x) * sigma;
  }
  return (x + noise).clamp(lo, hi);
}

at::Tensor InputTransform::value(const at::Tensor& x) const {
  if (spec_.name == "gaussian_noise") return add_gaussian_noise(x, spec_.sigma, lo_, hi_);
  if (spec_.name == "bit_depth") return reduce_bit_depth(x, spec_.bits, lo_, hi_);
  if (spec_.name == "median") return median_smooth(x, spec_.size);
  return jpeg_reencode(x, spec_.quality, lo_, hi_);
}

at::Tensor InputTransform::apply(const at::Tensor& x) const {
  // Noise is added inside the graph: its exact gradient is the clip's, and what makes the
  // defense hard to attack is the fresh draw on every pass (EOT averages over it).
  if (spec_.is_differentiable()) return value(x);
  at::Tensor out;
  {
    at::NoGradGuard no_grad;
    out = value(x.detach());
  }
  // Tie the result to the input with a zero gradient, so that an attacker differentiating
  // through the deployed preprocessing gets what it offers: nothing.
  return x.requires_grad() ? out + x * 0.0 : out;
}

at::Tensor InputTransform::apply_bpda(const at::Tensor& x) const {
  if (spec_.name == "median" || spec_.is_differentiable()) return value(x);
  at::Tensor out;
  {
    at::NoGradGuard no_grad;
    out = value(x.detach());
  }
  return x + (out - x.detach());
}

}  // namespace rampart::defenses
