#include "defenses/poisoning/cluster_statistics.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace rampart::defenses::poisoning {
namespace {

std::vector<double> to_vector(const at::Tensor& values) {
  const at::Tensor v = values.to(at::kCPU, at::kDouble).contiguous().flatten();
  return std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  return 0.5 * (upper + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)));
}

}  // namespace

at::Tensor two_means_1d(const at::Tensor& values) {
  const std::vector<double> v = to_vector(values);
  const auto n = static_cast<int64_t>(v.size());
  at::Tensor high = at::zeros({n}, at::kBool);
  if (n < 2) return high;
  std::vector<int64_t> order(v.size());
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::vector<double> prefix(n + 1, 0.0), prefix_sq(n + 1, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    prefix[i + 1] = prefix[i] + v[order[i]];
    prefix_sq[i + 1] = prefix_sq[i] + v[order[i]] * v[order[i]];
  }
  auto within = [&](int64_t from, int64_t to) {  // sum of squares of sorted [from, to)
    const double s = prefix[to] - prefix[from];
    return (prefix_sq[to] - prefix_sq[from]) - s * s / static_cast<double>(to - from);
  };
  double best = std::numeric_limits<double>::infinity();
  int64_t cut = -1;
  for (int64_t k = 1; k < n; ++k) {
    if (v[order[k]] == v[order[k - 1]]) continue;  // equal values stay together
    const double ss = within(0, k) + within(k, n);
    if (ss < best) best = ss, cut = k;
  }
  if (cut < 0) return high;
  bool* h = high.data_ptr<bool>();
  for (int64_t k = cut; k < n; ++k) h[order[k]] = true;
  return high;
}

at::Tensor robust_z(const at::Tensor& values) {
  const std::vector<double> v = to_vector(values);
  const double m = median(v);
  std::vector<double> deviation(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) deviation[i] = std::abs(v[i] - m);
  const double scale = 1.4826 * median(deviation);
  const at::Tensor x = values.to(at::kCPU, at::kDouble);
  return scale > 0 ? (x - m) / scale : at::zeros_like(x);
}

std::vector<double> outlier_p_values(const std::vector<double>& statistics) {
  std::vector<double> p(statistics.size(), 1.0);
  if (statistics.size() < 3) return p;
  const at::Tensor z = robust_z(at::tensor(statistics, at::kDouble));
  for (std::size_t i = 0; i < statistics.size(); ++i) {
    p[i] = 0.5 * std::erfc(z[static_cast<int64_t>(i)].item<double>() / std::sqrt(2.0));
  }
  return p;
}

}  // namespace rampart::defenses::poisoning
