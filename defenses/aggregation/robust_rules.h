#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

/// Byzantine-robust aggregation rules over worker vectors x ([n, d], one row per worker), as
/// ByzFL (LPD-EPFL/byzfl, byzfl/aggregators/aggregators.py) defines them; where papers differ
/// the comment says which definition is ByzFL's. Rules taking f (the number of Byzantine
/// workers tolerated) need 2f < n and throw ConfigError otherwise.
namespace rampart::defenses::aggregation {

/// The plain mean over workers (no robustness).
at::Tensor mean(const at::Tensor& x);

/// Coordinate-wise median (Yin et al. 2018); for an even n the two middle values averaged.
at::Tensor coordinate_median(const at::Tensor& x);

/// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, the f smallest and the f
/// largest values dropped, the n - 2f others averaged.
at::Tensor trimmed_mean(const at::Tensor& x, int64_t f);

/// Meamed, the mean around the median (Xie, Koyejo & Gupta 2018): per coordinate, the mean of
/// the n - f values closest to the coordinate's median. Equally distant windows: the lower one
/// (kernels::median_window_mean).
at::Tensor meamed(const at::Tensor& x, int64_t f);

/// Krum scores (Blanchard et al. 2017, ByzFL's form): per worker, the MEAN of its n - f - 1
/// smallest squared distances to the other workers (the paper sums n - f - 2 of them).
at::Tensor krum_scores(const at::Tensor& x, int64_t f);

/// Krum: the vector with the smallest score (the first on ties).
at::Tensor krum(const at::Tensor& x, int64_t f);

/// Multi-Krum: the mean of the n - f vectors with the smallest scores.
at::Tensor multi_krum(const at::Tensor& x, int64_t f);

/// Minimum diameter averaging (El Mhamdi et al. 2020), ByzFL's form: the mean of the n - f
/// vectors whose largest pairwise L2 distance is smallest; on ties the subset that comes first
/// in itertools.combinations order. The search is exact (a depth-first search over subsets in
/// that order, cut where a partial subset is already no smaller than the best), so its cost
/// grows with C(n, f): ConfigError when C(n, f) exceeds 10^7.
at::Tensor minimum_diameter_average(const at::Tensor& x, int64_t f);

/// Covariance-bound agnostic filter, CAF (Allouah, Guerraoui & Stephan, ICML 2025), as ByzFL's
/// CAF: weights c = 1; while sum c > n - 2f: mu = the c-weighted mean, v the dominant
/// eigenvector of the c-weighted covariance sum_i c_i (x_i - mu)(x_i - mu)^T / sum c,
/// tau_i = ((x_i - mu) . v)^2, c_i <- c_i (1 - tau_i / max tau); returns the mu whose covariance
/// had the smallest top eigenvalue. Where ByzFL differs: it estimates v by ONE power iteration
/// from a random vector (a random output wherever the covariance has rank > 1); here v is exact,
/// from the n x n centred Gram matrix (built from the pairwise distances, so the cost is one
/// distance pass and one weighted mean, not a d x d matrix). A covariance that vanishes (every
/// weighted vector equal) ends the loop with that mean (ByzFL divides by zero there).
at::Tensor covariance_filter(const at::Tensor& x, int64_t f);

/// Geometric median by smoothed Weiszfeld (Pillutla et al. 2022, RFA), ByzFL's form: from
/// z = 0, `iterations` times z <- sum_i x_i / b_i / sum_i 1 / b_i with b_i = max(nu, |x_i - z|).
/// Rows with an infinite value are left out.
at::Tensor geometric_median(const at::Tensor& x, double nu = 0.1, int64_t iterations = 3);

/// Centered clipping (Karimireddy, He & Jaggi 2021): `iterations` times
/// v <- v + (1/n) sum_i (x_i - v) min(1, tau / |x_i - v|), from the centre kept from the previous
/// call (zero at first). Stateful: the aggregate becomes the next round's centre.
class CenteredClipping {
 public:
  explicit CenteredClipping(double tau = 100.0, int64_t iterations = 1);
  at::Tensor operator()(const at::Tensor& x);
  const at::Tensor& centre() const { return centre_; }
  /// Restores the centre (a resumed run).
  void set_centre(const at::Tensor& centre) { centre_ = centre; }

 private:
  double tau_;
  int64_t iterations_;
  at::Tensor centre_;
};

/// Throws ConfigError unless x is [n, d] with n >= 1 and 0 <= f with 2f < n; `rule` names the
/// rule in the message.
void check_workers(const at::Tensor& x, int64_t f, const char* rule);

}  // namespace rampart::defenses::aggregation
