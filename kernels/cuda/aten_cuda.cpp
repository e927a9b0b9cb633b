#include "kernels/cuda/aten_cuda.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/coordinate_stats.h"
#include "kernels/cuda/aggregation_kernels.cuh"
#include "kernels/cuda/step_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

void check_launch(cudaError_t status, const char* op) {
  TORCH_CHECK(status == cudaSuccess, op,
              ": CUDA kernel launch failed: ", cudaGetErrorString(status));
}

// The sorting network for n wires as interleaved int32 pairs on `device` (a few hundred bytes,
// copied per call: aggregation runs once per round), and the number of pairs.
std::pair<at::Tensor, int64_t> network_on_device(int64_t n, const at::Device& device) {
  const auto pairs = sorting_network(n);
  std::vector<int32_t> flat{0, 0};  // n = 1 has no pairs: keep a valid pointer
  flat.resize(std::max<size_t>(2, 2 * pairs.size()));
  for (size_t p = 0; p < pairs.size(); ++p) {
    flat[2 * p] = pairs[p].first;
    flat[2 * p + 1] = pairs[p].second;
  }
  return {at::tensor(flat, at::kInt).to(device), static_cast<int64_t>(pairs.size())};
}

}  // namespace

void linf_step_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& g, float alpha,
                    float eps, float lo, float hi) {
  const c10::cuda::CUDAGuard guard(out.device());
  check_launch(
      launch_linf_step(out.data_ptr<float>(), x.data_ptr<float>(), g.data_ptr<float>(), out.numel(),
                       alpha, eps, lo, hi, at::cuda::getCurrentCUDAStream().stream()),
      "linf_step_");
}

void l2_step_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& g, float alpha, float eps,
                  float lo, float hi) {
  const c10::cuda::CUDAGuard guard(out.device());
  const int64_t samples = out.size(0);
  check_launch(launch_l2_step(out.data_ptr<float>(), x.data_ptr<float>(), g.data_ptr<float>(),
                              samples, samples == 0 ? 0 : out.numel() / samples, alpha, eps, lo, hi,
                              at::cuda::getCurrentCUDAStream().stream()),
               "l2_step_");
}

void cw_step_cuda(at::Tensor& w, at::Tensor& m, at::Tensor& v, at::Tensor& best,
                  at::Tensor& best_l2, const at::Tensor& grad, const at::Tensor& x_adv,
                  const at::Tensor& x, const at::Tensor& hit, const at::Tensor& moving, float lr,
                  float bias1, float bias2) {
  const c10::cuda::CUDAGuard guard(w.device());
  const int64_t samples = w.size(0);
  check_launch(
      launch_cw_step(w.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(),
                     best.data_ptr<float>(), best_l2.data_ptr<float>(), grad.data_ptr<float>(),
                     x_adv.data_ptr<float>(), x.data_ptr<float>(), hit.data_ptr<bool>(),
                     moving.data_ptr<bool>(), samples, samples == 0 ? 0 : w.numel() / samples, lr,
                     bias1, bias2, at::cuda::getCurrentCUDAStream().stream()),
      "cw_step_");
}

void linf_random_start_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& ids,
                            float eps, float lo, float hi, uint64_t key) {
  const c10::cuda::CUDAGuard guard(out.device());
  const int64_t samples = out.size(0);
  check_launch(launch_linf_random_start(out.data_ptr<float>(), x.data_ptr<float>(),
                                        ids.data_ptr<int64_t>(), samples,
                                        samples == 0 ? 0 : out.numel() / samples, eps, lo, hi, key,
                                        at::cuda::getCurrentCUDAStream().stream()),
               "linf_random_start");
}

void l2_random_start_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& ids, float eps,
                          float lo, float hi, uint64_t key) {
  const c10::cuda::CUDAGuard guard(out.device());
  const int64_t samples = out.size(0);
  check_launch(launch_l2_random_start(out.data_ptr<float>(), x.data_ptr<float>(),
                                      ids.data_ptr<int64_t>(), samples,
                                      samples == 0 ? 0 : out.numel() / samples, eps, lo, hi, key,
                                      at::cuda::getCurrentCUDAStream().stream()),
               "l2_random_start");
}

void update_fooled_cuda(at::Tensor& fooled, const at::Tensor& logits, const at::Tensor& labels,
                        bool targeted) {
  const c10::cuda::CUDAGuard guard(fooled.device());
  check_launch(launch_update_fooled(fooled.data_ptr<bool>(), logits.data_ptr<float>(),
                                    labels.data_ptr<int64_t>(), logits.size(0), logits.size(1),
                                    targeted, at::cuda::getCurrentCUDAStream().stream()),
               "update_fooled_");
}

void apgd_step_cuda(at::Tensor& x_adv, at::Tensor& x_prev, const at::Tensor& x,
                    const at::Tensor& g, const at::Tensor& eta, float alpha, float eps, float lo,
                    float hi, bool l2) {
  const c10::cuda::CUDAGuard guard(x_adv.device());
  const int64_t samples = x_adv.size(0);
  check_launch(launch_apgd_step(x_adv.data_ptr<float>(), x_prev.data_ptr<float>(),
                                x.data_ptr<float>(), g.data_ptr<float>(), eta.data_ptr<float>(),
                                samples, samples == 0 ? 0 : x_adv.numel() / samples, alpha, eps,
                                lo, hi, l2, at::cuda::getCurrentCUDAStream().stream()),
               "apgd_step_");
}

void apgd_track_cuda(at::Tensor& x_best, at::Tensor& grad_best, at::Tensor& loss_best,
                     at::Tensor& x_best_adv, at::Tensor& fooled, at::Tensor& loss_prev,
                     at::Tensor& increases, const at::Tensor& x_adv, const at::Tensor& grad,
                     const at::Tensor& loss, const at::Tensor& fooled_now) {
  const c10::cuda::CUDAGuard guard(x_adv.device());
  const int64_t samples = x_adv.size(0);
  check_launch(
      launch_apgd_track(x_best.data_ptr<float>(), grad_best.data_ptr<float>(),
                        loss_best.data_ptr<float>(), x_best_adv.data_ptr<float>(),
                        fooled.data_ptr<bool>(), loss_prev.data_ptr<float>(),
                        increases.data_ptr<int32_t>(), x_adv.data_ptr<float>(),
                        grad.data_ptr<float>(), loss.data_ptr<float>(), fooled_now.data_ptr<bool>(),
                        samples, samples == 0 ? 0 : x_adv.numel() / samples,
                        at::cuda::getCurrentCUDAStream().stream()),
      "apgd_track_");
}

void square_linf_start_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& ids, float eps,
                            float lo, float hi, uint64_t key) {
  const c10::cuda::CUDAGuard guard(out.device());
  check_launch(launch_square_linf_start(out.data_ptr<float>(), x.data_ptr<float>(),
                                        ids.data_ptr<int64_t>(), x.size(0), x.size(1), x.size(2),
                                        x.size(3), eps, lo, hi, key,
                                        at::cuda::getCurrentCUDAStream().stream()),
               "square_linf_start");
}

void square_linf_proposal_cuda(at::Tensor& out, const at::Tensor& x_best, const at::Tensor& x,
                               const at::Tensor& ids, int64_t side, int64_t iteration, float eps,
                               float lo, float hi, uint64_t key) {
  const c10::cuda::CUDAGuard guard(out.device());
  check_launch(launch_square_linf_proposal(out.data_ptr<float>(), x_best.data_ptr<float>(),
                                           x.data_ptr<float>(), ids.data_ptr<int64_t>(), x.size(0),
                                           x.size(1), x.size(2), x.size(3), side, iteration, eps,
                                           lo, hi, key, at::cuda::getCurrentCUDAStream().stream()),
               "square_linf_proposal");
}

void sorted_range_mean_cuda(at::Tensor& out, const at::Tensor& x, int64_t row_stride, int64_t lo,
                            int64_t hi) {
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t n = x.size(0);
  const auto [network, pairs] = network_on_device(n, x.device());
  check_launch(launch_sorted_range_mean(x.data_ptr<float>(), n, x.size(1), row_stride, lo, hi,
                                        network.data_ptr<int32_t>(), pairs, out.data_ptr<float>(),
                                        at::cuda::getCurrentCUDAStream().stream()),
               "sorted_range_mean");
}

void median_window_mean_cuda(at::Tensor& out, const at::Tensor& x, int64_t row_stride, int64_t k) {
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t n = x.size(0);
  const auto [network, pairs] = network_on_device(n, x.device());
  check_launch(launch_median_window_mean(x.data_ptr<float>(), n, x.size(1), row_stride, k,
                                         network.data_ptr<int32_t>(), pairs, out.data_ptr<float>(),
                                         at::cuda::getCurrentCUDAStream().stream()),
               "median_window_mean");
}

void pairwise_sq_distances_cuda(at::Tensor& out, const at::Tensor& x, int64_t row_stride) {
  const c10::cuda::CUDAGuard guard(x.device());
  check_launch(launch_pairwise_sq_distances(x.data_ptr<float>(), x.size(0), x.size(1), row_stride,
                                            out.data_ptr<double>(),
                                            at::cuda::getCurrentCUDAStream().stream()),
               "pairwise_sq_distances");
}

}  // namespace rampart::kernels::cuda
