#include "datasets/synthetic.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "datasets/random.h"

namespace rampart::datasets {
namespace {

// Stream identifiers mixed into the seed so prototypes, labels and noise never share draws.
constexpr uint64_t kPrototypeStream = 0x70726f746f747970ULL;
constexpr uint64_t kLabelStream = 0x6c6162656c730000ULL;
constexpr uint64_t kNoiseStream = 0x6e6f697365000000ULL;

uint64_t stream_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  detail::SplitMix64 a(seed ^ stream);
  detail::SplitMix64 b(a.next() + index);
  return b.next();
}

/// Prototype images [K, C, H, W]: per class, a coarse grid of uniform cells.
std::vector<float> make_prototypes(const SyntheticOptions& o) {
  const int64_t k = o.num_classes(), c = o.channels(), h = o.height(), w = o.width();
  const int64_t cell_h = std::max<int64_t>(1, h / 7), cell_w = std::max<int64_t>(1, w / 7);
  const int64_t grid_h = (h + cell_h - 1) / cell_h, grid_w = (w + cell_w - 1) / cell_w;
  std::vector<float> out(static_cast<std::size_t>(k * c * h * w));
  for (int64_t cls = 0; cls < k; ++cls) {
    detail::SplitMix64 rng(stream_seed(o.seed(), kPrototypeStream, static_cast<uint64_t>(cls)));
    std::vector<float> grid(static_cast<std::size_t>(c * grid_h * grid_w));
    for (float& g : grid) g = static_cast<float>(0.15 + 0.7 * rng.uniform());
    float* dst = out.data() + cls * c * h * w;
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          dst[(ch * h + y) * w + x] =
              grid[static_cast<std::size_t>((ch * grid_h + y / cell_h) * grid_w + x / cell_w)];
        }
      }
    }
  }
  return out;
}

}  // namespace

void validate(const SyntheticOptions& o) {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) {
      throw ConfigError(std::string("synthetic: ") + name + " must be positive, got " +
                        std::to_string(v));
    }
  };
  positive("num_samples", o.num_samples());
  positive("channels", o.channels());
  positive("height", o.height());
  positive("width", o.width());
  positive("num_classes", o.num_classes());
  if (!std::isfinite(o.noise()) || o.noise() < 0) {
    throw ConfigError("synthetic: noise must be a finite value >= 0, got " +
                      std::to_string(o.noise()));
  }
  const double total = static_cast<double>(o.num_samples()) * static_cast<double>(o.channels()) *
                       static_cast<double>(o.height()) * static_cast<double>(o.width());
  if (total > 4294967296.0) {
    throw ConfigError("synthetic: " + std::to_string(o.num_samples()) + " samples of " +
                      std::to_string(o.channels()) + "x" + std::to_string(o.height()) + "x" +
                      std::to_string(o.width()) + " exceed the limit of 2^32 values");
  }
}

Dataset make_synthetic(const SyntheticOptions& o) {
  validate(o);
  const int64_t n = o.num_samples(), k = o.num_classes();
  const int64_t per = o.channels() * o.height() * o.width();
  const std::vector<float> prototypes = make_prototypes(o);

  // Labels and noise come from streams keyed by both seeds.
  const uint64_t sample_key = o.seed() ^ detail::SplitMix64(o.sample_seed()).next();

  // Balanced labels, shuffled with a Fisher-Yates of our own (portable results).
  at::Tensor labels = at::empty({n}, at::kLong);
  int64_t* lab = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) lab[i] = i % k;
  detail::SplitMix64 label_rng(stream_seed(sample_key, kLabelStream, 0));
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(lab[i], lab[label_rng.below(static_cast<uint64_t>(i + 1))]);
  }

  at::Tensor images = at::empty({n, o.channels(), o.height(), o.width()}, at::kFloat);
  float* img = images.data_ptr<float>();
  const double noise = o.noise();
  constexpr double kTwoPi = 6.283185307179586;
  for (int64_t i = 0; i < n; ++i) {
    detail::SplitMix64 rng(stream_seed(sample_key, kNoiseStream, static_cast<uint64_t>(i)));
    const float* proto = prototypes.data() + lab[i] * per;
    float* dst = img + i * per;
    for (int64_t j = 0; j < per; j += 2) {
      // Box-Muller: two standard normal draws from two uniforms.
      const double r = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));
      const double theta = kTwoPi * rng.uniform();
      const double z[2] = {r * std::cos(theta), r * std::sin(theta)};
      for (int64_t m = 0; m < 2 && j + m < per; ++m) {
        const double v = proto[j + m] + noise * z[m];
        dst[j + m] = static_cast<float>(std::min(1.0, std::max(0.0, v)));
      }
    }
  }

  Dataset out;
  out.images = images;
  out.labels = labels;
  out.num_classes = k;
  out.source = "synthetic(seed=" + std::to_string(o.seed()) +
               ", sample_seed=" + std::to_string(o.sample_seed()) +
               ", noise=" + std::to_string(o.noise()) + ")";
  return out;
}

}  // namespace rampart::datasets
