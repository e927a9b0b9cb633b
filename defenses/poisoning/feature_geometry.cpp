#include "defenses/poisoning/feature_geometry.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace rampart::defenses::poisoning {

at::Tensor PcaBasis::project(const at::Tensor& x) const {
  return (x.to(at::kDouble) - mean).mm(basis);
}

at::Tensor evenly_spaced_rows(int64_t n, int64_t count) {
  if (n <= count) return at::arange(n, at::kLong);
  return at::linspace(0, static_cast<double>(n - 1), count, at::kDouble).round().to(at::kLong);
}

PcaBasis fit_pca(const at::Tensor& points, int64_t dims, int64_t fit_rows) {
  if (points.dim() != 2 || points.size(0) < 2) {
    throw std::invalid_argument("fit_pca: points must be [N >= 2, D]");
  }
  at::Tensor fit = points;
  if (fit_rows > 0 && fit_rows < points.size(0)) {
    fit = points.index_select(0, evenly_spaced_rows(points.size(0), fit_rows));
  }
  PcaBasis pca;
  const at::Tensor x = fit.to(at::kDouble);
  pca.mean = x.mean(0);
  const at::Tensor centred = x - pca.mean;
  const auto [values, vectors] = at::linalg_eigh(centred.t().mm(centred));
  const int64_t d = std::min<int64_t>(dims, x.size(1));
  pca.basis = vectors.slice(1, x.size(1) - d).flip({1}).contiguous();  // ascending -> largest first
  // A fixed sign per axis (the largest-magnitude component positive), so runs agree.
  const at::Tensor pivot = pca.basis.gather(0, pca.basis.abs().argmax(0, true));
  pca.basis = pca.basis * pivot.sign().where(pivot != 0, at::ones_like(pivot));
  return pca;
}

at::Tensor two_means(const at::Tensor& points, const at::Tensor& initial,
                     int64_t max_iterations) {
  const at::Tensor x = points.to(at::kDouble);
  at::Tensor second = initial.to(at::kBool).clone();
  for (int64_t it = 0; it < max_iterations; ++it) {
    const int64_t n2 = second.sum().item<int64_t>();
    if (n2 == 0 || n2 == x.size(0)) break;
    const at::Tensor w = second.to(at::kDouble).unsqueeze(1);
    const at::Tensor c2 = (x * w).sum(0) / static_cast<double>(n2);
    const at::Tensor c1 = (x * (1 - w)).sum(0) / static_cast<double>(x.size(0) - n2);
    const at::Tensor next = (x - c2).square().sum(1) < (x - c1).square().sum(1);
    if (next.equal(second)) break;
    second = next;
  }
  return second;
}

FisherSplit fisher_split(const at::Tensor& points, const at::Tensor& initial,
                         int64_t max_iterations) {
  const at::Tensor x = points.to(at::kDouble);
  const int64_t n = x.size(0), d = x.size(1);
  FisherSplit out;
  out.second = initial.to(at::kBool).clone();
  out.discriminant = at::zeros({n}, at::kDouble);
  for (int64_t it = 0; it < max_iterations; ++it) {
    const int64_t n2 = out.second.sum().item<int64_t>();
    if (n2 < 2 || n - n2 < 2) return out;  // no two clusters to tell apart
    const at::Tensor a = x.index({out.second.logical_not()}), b = x.index({out.second});
    const at::Tensor ma = a.mean(0), mb = b.mean(0);
    const at::Tensor ca = a - ma, cb = b - mb;
    at::Tensor pooled = (ca.t().mm(ca) + cb.t().mm(cb)) / static_cast<double>(n - 2);
    // A ridge of 1e-6 of the mean variance keeps S invertible when a cluster is flat.
    pooled = pooled + at::eye(d, at::kDouble) * (1e-6 * pooled.trace().item<double>() / d + 1e-300);
    const at::Tensor w = at::linalg_solve(pooled, (mb - ma).unsqueeze(1)).squeeze(1);
    const double spread = std::sqrt(std::max(w.dot(pooled.mv(w)).item<double>(), 1e-300));
    out.separation = (mb - ma).dot(w).item<double>() / spread;
    out.discriminant = (x.mv(w) - 0.5 * (ma + mb).dot(w)) / spread;
    const at::Tensor next = out.discriminant > 0;
    if (next.equal(out.second)) break;
    out.second = next;
  }
  return out;
}

namespace {

double within_sum_of_squares(const at::Tensor& x, const at::Tensor& second) {
  double total = 0;
  for (const bool side : {false, true}) {
    const at::Tensor part = x.index({second == side});
    if (part.size(0) > 0) total += (part - part.mean(0)).square().sum().item<double>();
  }
  return total;
}

}  // namespace

at::Tensor two_means_plus_plus(const at::Tensor& points, uint64_t seed, int64_t restarts) {
  const at::Tensor x = points.to(at::kDouble);
  const int64_t n = x.size(0);
  if (n < 2) return at::zeros({n}, at::kBool);
  std::mt19937_64 rng(seed);
  at::Tensor best;
  double best_ss = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < restarts; ++r) {
    const auto first = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
    const at::Tensor d2 = (x - x[first]).square().sum(1);
    const double total = d2.sum().item<double>();
    if (total <= 0) return at::zeros({n}, at::kBool);
    // The second centre with probability proportional to the squared distance.
    const double u = std::uniform_real_distribution<double>(0, total)(rng);
    const int64_t second_centre = std::min<int64_t>(
        (d2.cumsum(0) < u).sum().item<int64_t>(), n - 1);
    const at::Tensor initial =
        (x - x[second_centre]).square().sum(1) < (x - x[first]).square().sum(1);
    const at::Tensor assignment = two_means(x, initial);
    const double ss = within_sum_of_squares(x, assignment);
    if (ss < best_ss) best_ss = ss, best = assignment;
  }
  // The smaller cluster is the second one, so that results read the same whatever the seed.
  if (best.sum().item<int64_t>() * 2 > n) best = best.logical_not();
  return best;
}

double silhouette(const at::Tensor& points, const at::Tensor& second, int64_t max_points) {
  const int64_t n = points.size(0);
  at::Tensor x = points.to(at::kDouble), s = second.to(at::kBool);
  if (n > max_points) {
    const at::Tensor rows = evenly_spaced_rows(n, max_points);
    x = x.index_select(0, rows);
    s = s.index_select(0, rows);
  }
  const int64_t n2 = s.sum().item<int64_t>(), m = x.size(0);
  if (n2 < 1 || n2 >= m) return 0.0;
  const at::Tensor dist = at::cdist(x, x);
  const at::Tensor w2 = s.to(at::kDouble), w1 = 1 - w2;
  const at::Tensor sum_to_1 = dist.mv(w1), sum_to_2 = dist.mv(w2);
  const double m1 = static_cast<double>(m - n2), m2 = static_cast<double>(n2);
  // a: mean distance to the own cluster (without the point), b: to the other cluster.
  const at::Tensor a = at::where(s, sum_to_2 / std::max(m2 - 1, 1.0), sum_to_1 / std::max(m1 - 1, 1.0));
  const at::Tensor b = at::where(s, sum_to_1 / m1, sum_to_2 / m2);
  at::Tensor coeff = (b - a) / at::maximum(a, b).clamp_min(1e-300);
  // A point alone in its cluster has silhouette 0 by definition.
  if (n2 == 1) coeff.masked_fill_(s, 0.0);
  if (m - n2 == 1) coeff.masked_fill_(s.logical_not(), 0.0);
  return coeff.mean().item<double>();
}

namespace {

// The `take` smallest entries of one row of distances and their reference indices, sorted
// ascending. Merging a chunk costs one comparison per entry unless the entry beats the current
// worst (about take x ln(M / take) insertions per row in all), where at::topk's partial sort
// touched every entry several times.
class RowNearest {
 public:
  RowNearest(float* best, int64_t* where, int64_t take) : b_(best), w_(where), take_(take) {}

  void merge(const float* row, int64_t cols, int64_t offset) {
    int64_t c = 0;
    for (; c < cols && n_ < take_; ++c) insert(row[c], offset + c);
    // Once the row is full, a group of 16 entries is looked at one by one only when one of them
    // beats the current worst: a compare-and-or that the compiler vectorises.
    constexpr int64_t kGroup = 16;
    for (; c + kGroup <= cols; c += kGroup) {
      const float worst = b_[take_ - 1];
      int any = 0;
      for (int64_t j = 0; j < kGroup; ++j) any |= row[c + j] < worst;
      if (any) {
        for (int64_t j = 0; j < kGroup; ++j) insert(row[c + j], offset + c + j);
      }
    }
    for (; c < cols; ++c) insert(row[c], offset + c);
  }

  // A row with fewer finite distances than `take` repeats its nearest.
  void finish() {
    for (int64_t i = n_; i < take_; ++i) w_[i] = n_ ? w_[0] : 0;
  }

 private:
  void insert(float v, int64_t index) {
    if (n_ == take_ ? !(v < b_[take_ - 1]) : v != v) return;  // NaN never enters
    int64_t pos = n_ < take_ ? n_++ : take_ - 1;
    for (; pos > 0 && b_[pos - 1] > v; --pos) {
      b_[pos] = b_[pos - 1];
      w_[pos] = w_[pos - 1];
    }
    b_[pos] = v;
    w_[pos] = index;
  }

  float* b_;
  int64_t* w_;
  int64_t take_;
  int64_t n_ = 0;
};

}  // namespace

at::Tensor nearest_labels(const at::Tensor& query, const at::Tensor& query_index,
                          const at::Tensor& reference, const at::Tensor& reference_labels,
                          int64_t k) {
  const at::Tensor ref = reference.to(at::kFloat).contiguous();
  const at::Tensor ref_sq = ref.square().sum(1);
  const at::Tensor queries = query.to(at::kFloat).contiguous();
  const at::Tensor self = query_index.to(at::kLong).contiguous();
  const int64_t q = queries.size(0), m = ref.size(0);
  const int64_t keep = std::min<int64_t>(k, m);
  at::Tensor nearest = at::empty({q, keep}, at::kLong);
  if (keep == 0 || q == 0) return nearest;
  // Each thread takes 64 queries at a time against 2,048 references at a time: its 512 KB
  // distance tile stays in its own cache between the product that writes it and the selection
  // that reads it (whole rows of 60,000 made that a round trip through memory of 60 MB per 256
  // queries, which cost more than the product).
  constexpr int64_t kQueries = 64, kReferences = 2048;
  const int64_t* self_index = self.data_ptr<int64_t>();
  at::parallel_for(0, (q + kQueries - 1) / kQueries, 1, [&](int64_t first_block, int64_t end_block) {
    at::Tensor d = at::empty({kQueries, kReferences}, at::kFloat);
    std::vector<float> best(kQueries * keep);
    for (int64_t blk = first_block; blk < end_block; ++blk) {
      const int64_t start = blk * kQueries, rows = std::min(kQueries, q - start);
      const at::Tensor block = queries.slice(0, start, start + rows);
      int64_t* where = nearest.data_ptr<int64_t>() + start * keep;
      std::vector<RowNearest> row_nearest;
      for (int64_t r = 0; r < rows; ++r) row_nearest.emplace_back(&best[r * keep], where + r * keep, keep);
      for (int64_t first = 0; first < m; first += kReferences) {
        const int64_t cols = std::min(kReferences, m - first);
        at::Tensor tile = d.slice(0, 0, rows).slice(1, 0, cols);
        if (rows != kQueries || cols != kReferences) tile = at::empty({rows, cols}, at::kFloat);
        // |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same along a row and does not rank.
        at::addmm_out(tile, ref_sq.slice(0, first, first + cols).unsqueeze(0).expand({rows, cols}),
                      block, ref.slice(0, first, first + cols).t(), /*beta=*/1, /*alpha=*/-2);
        float* dist = tile.data_ptr<float>();
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t own = self_index[start + r];  // the point is not its own neighbour
          if (own >= first && own < first + cols) {
            dist[r * cols + (own - first)] = std::numeric_limits<float>::infinity();
          }
          row_nearest[r].merge(dist + r * cols, cols, first);
        }
      }
      for (auto& row : row_nearest) row.finish();
    }
  });
  return reference_labels.index({nearest});
}

}  // namespace rampart::defenses::poisoning
