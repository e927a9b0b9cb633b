// The `rampart._rampart` extension: the library's attacks, evaluation, adversarial training
// losses, aggregation rules, model intake and poisoning detectors on tensors and models that come
// from Python. Tensors cross as they are (the same at::Tensor, no copy). The Python package
// (python/rampart/) wraps these functions with keyword arguments, docstrings and types.
#include <torch/csrc/utils/pybind.h>
#include <torch/version.h>

#include "core/error.h"
#include "core/heap_tuning.h"
#include "core/version.h"
#include "python/src/bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_rampart, m) {
  // The interpreter's malloc keeps tensor-sized blocks from here on (core/heap_tuning.h);
  // RAMPART_HEAP_TUNING=0 before the import leaves glibc's settings alone.
  rampart::core::tune_heap_for_tensors();
  m.doc() = "Rampart's native core: attacks, evaluation, adversarial training, poisoning audits.";
  // rampart.Error and its categories, with the library's one-line messages.
  static py::exception<rampart::Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<rampart::ConfigError> config_error(m, "ConfigError", error.ptr());
  static py::exception<rampart::ModelRejected> model_rejected(m, "ModelRejected", error.ptr());
  static py::exception<rampart::DataError> data_error(m, "DataError", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rampart::ConfigError& e) {
      config_error(e.what());
    } catch (const rampart::ModelRejected& e) {
      model_rejected(e.what());
    } catch (const rampart::DataError& e) {
      data_error(e.what());
    } catch (const rampart::Error& e) {
      error(e.what());
    } catch (const c10::OutOfMemoryError& e) {
      // torch.cuda.OutOfMemoryError, as torch raises it: what a training script catches to
      // retry with a smaller batch.
      const py::object oom = py::module_::import("torch.cuda").attr("OutOfMemoryError");
      PyErr_SetString(oom.ptr(), e.what_without_backtrace());
    } catch (const c10::IndexError& e) {  // torch's own Python classes for these, as torch maps them
      PyErr_SetString(PyExc_IndexError, e.what_without_backtrace());
    } catch (const c10::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what_without_backtrace());
    } catch (const c10::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what_without_backtrace());
    } catch (const c10::NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what_without_backtrace());
    } catch (const c10::Error& e) {
      // A libtorch error (a shape mismatch in the model, say): its message, not its backtrace.
      PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
    }
  });
  m.attr("__version__") = rampart::kVersion;
  m.attr("libtorch_version") = TORCH_VERSION;
  rampart::python::bind_attacks(m);
  rampart::python::bind_evaluation(m);
  rampart::python::bind_training(m);
  rampart::python::bind_data(m);
}
