// Exact k-nearest-neighbour search over Voronoi cells: the references are grouped by k-means
// cells, and a block of queries visits the cells in the order of a lower bound on their
// distance, stopping where the bound passes its rows' k-th distances. The bounds for a point p
// of cell j (centroid c_j, radius r_j) seen from a query q whose nearest centroid is c_i:
//   |q - p| >= |q - c_j| - r_j                                  (triangle inequality)
//   |q - p| >= (|q - c_j|^2 - |q - c_i|^2) / (2 |c_i - c_j|)    (p lies on c_j's side of the
//                                                                 bisector of c_i and c_j)
// as in the exact cluster-pruned searches of the k-means literature (Elkan 2003, Hamerly 2010).
#include "defenses/poisoning/nearest_neighbours.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/parallel_for.h"
#include "defenses/poisoning/feature_geometry.h"

namespace rampart::defenses::poisoning {

namespace {

constexpr int64_t kQueries = 64, kReferences = 2048;
constexpr int64_t kPointsPerCell = 512, kMaxCells = 256, kKmeansRounds = 10;

// The `take` smallest entries of one row of distances and their reference positions, sorted
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

  /// The k-th smallest entry so far; infinity until the row holds `take`.
  float worst() const {
    return n_ < take_ ? std::numeric_limits<float>::infinity() : b_[take_ - 1];
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

// [N, C] float64 Euclidean distances of the rows of `x` to the centroids.
at::Tensor centroid_distances(const at::Tensor& x, const at::Tensor& centroids) {
  const at::Tensor xd = x.to(at::kDouble);
  return at::addmm(centroids.square().sum(1).unsqueeze(0), xd, centroids.t(), 1, -2)
      .add_(xd.square().sum(1, /*keepdim=*/true))
      .clamp_min_(0)
      .sqrt_();
}

// The references in Voronoi cells. Members are those nearest their centroid (in float64), which
// the bisector bound relies on.
struct Cells {
  at::Tensor centroids;        // [C, d] float64
  at::Tensor gap;              // [C, C] float64: centroid distances
  std::vector<double> radius;  // per cell: the farthest member's distance from the centroid
  std::vector<int64_t> begin;  // C + 1 offsets into `order`
  at::Tensor order;            // [M] int64: the references sorted by cell
};

// The nearest centroid of each row and that distance, in blocks of 8,192 rows.
std::pair<at::Tensor, at::Tensor> assign(const at::Tensor& x, const at::Tensor& centroids) {
  at::Tensor cell = at::empty({x.size(0)}, at::kLong), dist = at::empty({x.size(0)}, at::kDouble);
  for (int64_t start = 0; start < x.size(0); start += 8192) {
    const auto [d, c] = centroid_distances(x.slice(0, start, start + 8192), centroids).min(1);
    cell.slice(0, start, start + 8192).copy_(c);
    dist.slice(0, start, start + 8192).copy_(d);
  }
  return {cell, dist};
}

// Lloyd's k-means from evenly spaced references, fitted on an evenly spaced subsample of 64
// points per cell; an empty cell keeps its centroid. The cells need not be optimal, only
// compact: the bounds hold for any centroids.
Cells make_cells(const at::Tensor& ref, int64_t count) {
  const int64_t m = ref.size(0);
  Cells cells;
  cells.centroids = ref.index_select(0, evenly_spaced_rows(m, count)).to(at::kDouble);
  const at::Tensor sample =
      count > 1 ? ref.index_select(0, evenly_spaced_rows(m, 64 * count)).to(at::kDouble)
                : at::Tensor();
  for (int64_t round = 0; round < kKmeansRounds && count > 1; ++round) {
    const at::Tensor cell = assign(sample, cells.centroids).first;
    const at::Tensor sums = at::zeros_like(cells.centroids).index_add_(0, cell, sample);
    const at::Tensor counts = at::bincount(cell, {}, count).to(at::kDouble).unsqueeze(1);
    cells.centroids = at::where(counts > 0, sums / counts.clamp_min(1), cells.centroids);
  }
  const auto [cell, dist] = assign(ref, cells.centroids);
  cells.order = std::get<1>(cell.sort(/*stable=*/c10::optional<bool>(true), 0));
  cells.gap = at::cdist(cells.centroids, cells.centroids);
  const at::Tensor sizes = at::bincount(cell, {}, count);
  cells.radius.assign(count, 0.0);
  const int64_t* member_cell = cell.data_ptr<int64_t>();
  const double* member_dist = dist.data_ptr<double>();
  for (int64_t i = 0; i < m; ++i) {
    cells.radius[member_cell[i]] = std::max(cells.radius[member_cell[i]], member_dist[i]);
  }
  cells.begin.assign(count + 1, 0);
  for (int64_t c = 0; c < count; ++c)
    cells.begin[c + 1] = cells.begin[c] + sizes[c].item<int64_t>();
  return cells;
}

int64_t cell_count(int64_t references) {
  return references < 4096 ? 1 : std::min(kMaxCells, references / kPointsPerCell);
}

// A block's lower bounds on the distance from each of its rows to each cell ([rows x C], row
// major), and the cells in the order the block visits them: by the smallest bound over its rows.
struct Visit {
  std::vector<double> row_bound;
  std::vector<int64_t> cell;
  std::vector<double> bound;
};

Visit visit_order(const Cells& cells, const at::Tensor& to_centroid, int64_t own) {
  const int64_t rows = to_centroid.size(0), count = to_centroid.size(1);
  const auto d = to_centroid.accessor<double, 2>();
  const auto gap = cells.gap.accessor<double, 2>();
  Visit visit;
  visit.row_bound.resize(rows * count);
  std::vector<double> bound(count, std::numeric_limits<double>::infinity());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < count; ++j) {
      double lb = std::max(0.0, d[r][j] - cells.radius[j]);
      if (j != own && gap[own][j] > 0) {
        lb = std::max(lb, (d[r][j] * d[r][j] - d[r][own] * d[r][own]) / (2 * gap[own][j]));
      }
      visit.row_bound[r * count + j] = lb;
      bound[j] = std::min(bound[j], lb);
    }
  }
  visit.cell.resize(count);
  std::iota(visit.cell.begin(), visit.cell.end(), 0);
  std::stable_sort(visit.cell.begin(), visit.cell.end(),
                   [&](int64_t a, int64_t b) { return bound[a] < bound[b]; });
  for (int64_t c : visit.cell) visit.bound.push_back(bound[c]);
  return visit;
}

// What every block's search reads: the references by cell and the queries by cell.
struct Search {
  const Cells& cells;
  at::Tensor ref, ref_sq;        // [M, d] float by cell, [M]
  at::Tensor queries, query_sq;  // [Q, d] float by cell, [Q]
  const int64_t* own_position;   // per query: its own point's position in `ref`, or -1
  const int64_t* query_cell;
  double slack;  // the float rounding allowance on squared distances
  int64_t keep;
};

// The `keep` nearest of queries [start, end) (one cell's) into `found` (positions in `ref`);
// returns the distances computed. Per cell, only the rows whose own bound is within their k-th
// distance so far take part; the block stops at the first cell beyond every row's reach.
int64_t search_block(const Search& s, int64_t start, int64_t end, int64_t* found,
                     std::vector<float>& tile_buffer, std::vector<float>& best) {
  const int64_t rows = end - start, count = static_cast<int64_t>(s.cells.radius.size());
  const at::Tensor block = s.queries.slice(0, start, end);
  const float* q_sq = s.query_sq.data_ptr<float>() + start;
  const Visit visit =
      visit_order(s.cells, centroid_distances(block, s.cells.centroids), s.query_cell[start]);
  std::vector<RowNearest> row_nearest;
  for (int64_t r = 0; r < rows; ++r)
    row_nearest.emplace_back(&best[r * s.keep], found + (start + r) * s.keep, s.keep);
  std::vector<int64_t> active;
  int64_t computed = 0;
  for (size_t v = 0; v < visit.cell.size(); ++v) {
    const int64_t c = visit.cell[v];
    active.clear();
    double reach = 0;  // the farthest k-th distance of the block's rows, squared
    for (int64_t r = 0; r < rows; ++r) {
      const double row_reach = static_cast<double>(row_nearest[r].worst()) + q_sq[r] + s.slack;
      reach = std::max(reach, row_reach);
      const double lb = visit.row_bound[r * count + c];
      if (lb * lb <= row_reach) active.push_back(r);
    }
    if (visit.bound[v] * visit.bound[v] > reach) break;  // and every later cell too
    if (active.empty()) continue;
    const int64_t n = static_cast<int64_t>(active.size());
    const at::Tensor rows_in =
        n == rows ? block : block.index_select(0, at::from_blob(active.data(), {n}, at::kLong));
    for (int64_t first = s.cells.begin[c]; first < s.cells.begin[c + 1]; first += kReferences) {
      const int64_t cols = std::min(kReferences, s.cells.begin[c + 1] - first);
      at::Tensor tile = at::from_blob(tile_buffer.data(), {n, cols}, at::kFloat);
      // |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same along a row and does not rank.
      at::addmm_out(tile, s.ref_sq.slice(0, first, first + cols).unsqueeze(0).expand({n, cols}),
                    rows_in, s.ref.slice(0, first, first + cols).t(), /*beta=*/1, /*alpha=*/-2);
      for (int64_t a = 0; a < n; ++a) {
        const int64_t r = active[a];
        float* dist = tile_buffer.data() + a * cols;
        const int64_t self_at = s.own_position[start + r];  // the point is not its own neighbour
        if (self_at >= first && self_at < first + cols)
          dist[self_at - first] = std::numeric_limits<float>::infinity();
        row_nearest[r].merge(dist, cols, first);
      }
      computed += n * cols;
    }
  }
  for (auto& row : row_nearest) row.finish();
  return computed;
}

// The [start, end) ranges of up to 64 consecutive queries of one cell, over queries sorted by
// cell (`cell`: int64 [Q]).
std::vector<std::pair<int64_t, int64_t>> blocks_of_cells(const at::Tensor& cell) {
  std::vector<std::pair<int64_t, int64_t>> blocks;
  const int64_t* c = cell.data_ptr<int64_t>();
  const int64_t q = cell.numel();
  for (int64_t start = 0; start < q;) {
    int64_t end = start + 1;
    while (end < q && end - start < kQueries && c[end] == c[start]) ++end;
    blocks.emplace_back(start, end);
    start = end;
  }
  return blocks;
}

}  // namespace

at::Tensor nearest_neighbours(const at::Tensor& query, const at::Tensor& query_index,
                              const at::Tensor& reference, int64_t k, NeighbourSearchStats* stats) {
  const at::Tensor ref_in = reference.to(at::kFloat).contiguous();
  const int64_t q = query.size(0), m = ref_in.size(0);
  const int64_t keep = std::min<int64_t>(k, m);
  at::Tensor nearest = at::empty({q, keep}, at::kLong);
  if (keep == 0 || q == 0) return nearest;

  const Cells cells = make_cells(ref_in, cell_count(m));
  const int64_t count = static_cast<int64_t>(cells.radius.size());
  const at::Tensor ref = ref_in.index_select(0, cells.order);  // by cell
  const at::Tensor ref_sq = ref.square().sum(1);
  // Where each reference went, to skip a query's own point.
  const at::Tensor position =
      at::empty({m}, at::kLong).index_put_({cells.order}, at::arange(m, at::kLong));
  const auto [query_cell, unused] = assign(query, cells.centroids);
  const at::Tensor query_order =
      std::get<1>(query_cell.sort(/*stable=*/c10::optional<bool>(true), 0));
  const at::Tensor queries = query.to(at::kFloat).index_select(0, query_order).contiguous();
  const at::Tensor query_sq = queries.square().sum(1);
  const at::Tensor self = query_index.to(at::kLong).index_select(0, query_order);
  const at::Tensor own_position =
      at::where(self >= 0, position.index({self.clamp_min(0)}), at::full_like(self, -1))
          .contiguous();
  const at::Tensor sorted_cell = query_cell.index_select(0, query_order);
  // Float rounding of |q|^2 - 2 q.p + |p|^2 is below this; a cell is skipped only when its bound
  // passes the k-th distance by more.
  const double slack = 1e-5 * (query_sq.max().item<double>() + ref_sq.max().item<double>());
  // clang-format off
  const Search search{cells, ref, ref_sq, queries, query_sq, own_position.data_ptr<int64_t>(),
                      sorted_cell.data_ptr<int64_t>(), slack, keep};
  // clang-format on

  const auto blocks = blocks_of_cells(sorted_cell);
  at::Tensor found = at::empty({q, keep}, at::kLong);  // positions in `ref`, queries by cell
  std::atomic<int64_t> next{0}, distances{0};
  // One task per thread, each taking the next block until none is left: blocks differ in cost.
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) {
    std::vector<float> tile_buffer(kQueries * kReferences), best(kQueries * keep);
    int64_t computed = 0;
    for (int64_t b = next++; b < static_cast<int64_t>(blocks.size()); b = next++) {
      computed += search_block(search, blocks[b].first, blocks[b].second, found.data_ptr<int64_t>(),
                               tile_buffer, best);
    }
    distances += computed;
  });
  nearest.index_copy_(0, query_order, cells.order.index({found}));
  if (stats != nullptr) {
    stats->cells = count;
    stats->distances = distances.load();
  }
  return nearest;
}

at::Tensor nearest_labels(const at::Tensor& query, const at::Tensor& query_index,
                          const at::Tensor& reference, const at::Tensor& reference_labels,
                          int64_t k) {
  return reference_labels.index({nearest_neighbours(query, query_index, reference, k)});
}

}  // namespace rampart::defenses::poisoning
