#pragma once

#include <string>
#include <vector>

namespace rampart::test {

/// A TorchScript archive of a module `__torch__.<name>` with no parameters whose methods are
/// `methods` (TorchScript source: `def forward(self, x: Tensor) -> Tensor: ...` and any other).
/// With `state` non-empty the module also gets a Tensor attribute `state` and the methods may
/// define `__getstate__`/`__setstate__`: libtorch runs `__setstate__` while loading.
std::string scripted_archive(const std::string& name, const std::string& methods,
                             bool state = false);

/// What loading and running a model the way a user's own program would (plain
/// torch::jit::load and one forward pass on zeros of `input_shape`, no Rampart, no sandbox)
/// did in a throwaway child process: proof that a hostile file's payload is real.
struct Unconfined {
  int exit_code = -1;           ///< 0: loaded and ran; 1: libtorch threw; 128+N: signal N
  std::vector<double> output;   ///< the forward output, flattened
  std::string printed;          ///< what the model wrote to stdout
  bool rng_reseeded = false;    ///< the process RNG's seed differs from the one set before
};
Unconfined run_unconfined(const std::string& bytes, const std::vector<int64_t>& input_shape);

}  // namespace rampart::test
