#pragma once

#include <torch/csrc/utils/pybind.h>

namespace rampart::python {

/// The parts of the `_rampart` extension, each registering its functions on the module.
void bind_attacks(pybind11::module_& m);     ///< run_attack, time_attack
void bind_evaluation(pybind11::module_& m);  ///< evaluate
void bind_training(pybind11::module_& m);    ///< adversarial_loss, Aggregator
void bind_data(pybind11::module_& m);        ///< scan, audit_features

}  // namespace rampart::python
