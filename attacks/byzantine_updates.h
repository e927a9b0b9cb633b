#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

/// What Byzantine workers send in data-parallel training, computed by an omniscient attacker
/// from the honest workers' vectors h ([n_h, d]); every Byzantine worker sends the same vector.
/// Definitions are ByzFL's (LPD-EPFL/byzfl, byzfl/attacks/attacks.py); label flipping is not
/// here, as it changes the data a worker trains on rather than the vector it sends.
namespace rampart::attacks::byzantine {

/// Sign flipping: -mean(h).
at::Tensor sign_flip(const at::Tensor& h);

/// Inner-product manipulation (Xie et al. 2020, "Fall of empires"): -tau mean(h).
at::Tensor inner_product_manipulation(const at::Tensor& h, double tau);

/// A little is enough (Baruch et al. 2019), ByzFL's form: mean(h) + tau std(h), the
/// coordinate-wise sample standard deviation (ddof = 1). A negative tau gives the sign of the
/// authors' own code (moranant/attacking_distributed_learning, malicious.py: mean - z std, with
/// the population deviation there), which costs the trimmed mean far more than ByzFL's sign in
/// docs/distributed.md's table.
at::Tensor a_little_is_enough(const at::Tensor& h, double tau);

/// Gaussian: N(mu, sigma^2) per coordinate.
at::Tensor gaussian(const at::Tensor& h, double mu, double sigma, at::Generator generator);

/// Every coordinate +infinity.
at::Tensor infinity(const at::Tensor& h);

/// Mimic (Karimireddy et al. 2022): a copy of honest worker `index`'s vector.
at::Tensor mimic(const at::Tensor& h, int64_t index);

/// ByzFL's line search for the attack factor: from `start`, steps of `delta` doubling while
/// the damage grows (expansion), then steps shrinking by `ratio` (contraction), `evals` damage
/// evaluations in all. Returns the tau with the largest damage seen.
struct LineSearch {
  int64_t evals = 20;
  double start = 0.0;
  double delta = 10.0;
  double ratio = 0.8;
};
double line_search(const std::function<double(double)>& damage, const LineSearch& search = {});

/// The damage ByzFL's optimal attacks maximise: |aggregate(h with f copies of b) - mean(h)|.
/// `aggregate` is the defense's pipeline (pre-aggregators and rule), applied to a copy.
double damage(const at::Tensor& h, const at::Tensor& byzantine, int64_t f,
              const std::function<at::Tensor(const at::Tensor&)>& aggregate);

/// ALIE and IPM with tau chosen by the line search against `aggregate` (ByzFL's
/// Optimal_ALittleIsEnough and Optimal_InnerProductManipulation).
at::Tensor optimal_alie(const at::Tensor& h, int64_t f,
                        const std::function<at::Tensor(const at::Tensor&)>& aggregate,
                        const LineSearch& search = {});
at::Tensor optimal_ipm(const at::Tensor& h, int64_t f,
                       const std::function<at::Tensor(const at::Tensor&)>& aggregate,
                       const LineSearch& search = {});

}  // namespace rampart::attacks::byzantine
