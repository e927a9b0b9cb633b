#include "attacks/byzantine_updates.h"

#include <ATen/ATen.h>

#include <limits>
#include <stdexcept>

namespace rampart::attacks::byzantine {
namespace {

void check_honest(const at::Tensor& h, const char* attack) {
  if (h.dim() != 2 || h.size(0) < 1) {
    throw std::invalid_argument(std::string(attack) + ": needs [n, d] honest vectors, n >= 1");
  }
}

}  // namespace

at::Tensor sign_flip(const at::Tensor& h) {
  check_honest(h, "sign_flip");
  return -h.mean(0);
}

at::Tensor inner_product_manipulation(const at::Tensor& h, double tau) {
  check_honest(h, "ipm");
  return h.mean(0) * -tau;
}

at::Tensor a_little_is_enough(const at::Tensor& h, double tau) {
  check_honest(h, "alie");
  if (h.size(0) < 2) throw std::invalid_argument("alie: the sample deviation needs 2 honest vectors");
  return h.mean(0) + h.std(0, /*unbiased=*/true) * tau;
}

at::Tensor gaussian(const at::Tensor& h, double mu, double sigma, at::Generator generator) {
  check_honest(h, "gaussian");
  return at::normal(mu, sigma, {h.size(1)}, generator, h.options());
}

at::Tensor infinity(const at::Tensor& h) {
  check_honest(h, "inf");
  return at::full({h.size(1)}, std::numeric_limits<double>::infinity(), h.options());
}

at::Tensor mimic(const at::Tensor& h, int64_t index) {
  check_honest(h, "mimic");
  if (index < 0 || index >= h.size(0)) throw std::invalid_argument("mimic: no honest worker " + std::to_string(index));
  return h[index].clone();
}

double line_search(const std::function<double(double)>& damage, const LineSearch& s) {
  if (s.evals < 1 || s.delta == 0 || !(s.ratio > 0.5 && s.ratio < 1)) {
    throw std::invalid_argument("line_search: evals >= 1, delta != 0 and ratio in (0.5, 1)");
  }
  double best_x = s.start, best_y = damage(best_x), delta = s.delta;
  int64_t remaining = s.evals - 1;
  // Expansion: double the step while the damage grows.
  while (remaining > 0) {
    const double x = best_x + delta, y = damage(x);
    --remaining;
    if (y > best_y) {
      best_x = x, best_y = y;
      delta *= 2;
    } else {
      delta *= s.ratio;
      break;
    }
  }
  // Contraction: shrinking steps from the best point.
  while (remaining > 0) {
    const double x = best_x + delta, y = damage(x);
    --remaining;
    if (y > best_y) best_x = x, best_y = y;
    delta *= s.ratio;
  }
  return best_x;
}

double damage(const at::Tensor& h, const at::Tensor& byzantine, int64_t f,
              const std::function<at::Tensor(const at::Tensor&)>& aggregate) {
  const at::Tensor all = at::cat({h, byzantine.unsqueeze(0).expand({f, h.size(1)})});
  return (aggregate(all) - h.mean(0)).norm().item<double>();
}

at::Tensor optimal_alie(const at::Tensor& h, int64_t f,
                        const std::function<at::Tensor(const at::Tensor&)>& aggregate,
                        const LineSearch& search) {
  const double tau = line_search(
      [&](double t) { return damage(h, a_little_is_enough(h, t), f, aggregate); }, search);
  return a_little_is_enough(h, tau);
}

at::Tensor optimal_ipm(const at::Tensor& h, int64_t f,
                       const std::function<at::Tensor(const at::Tensor&)>& aggregate,
                       const LineSearch& search) {
  const double tau = line_search(
      [&](double t) { return damage(h, inner_product_manipulation(h, t), f, aggregate); }, search);
  return inner_product_manipulation(h, tau);
}

}  // namespace rampart::attacks::byzantine
