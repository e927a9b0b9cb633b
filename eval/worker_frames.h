#pragma once

#include <cstdint>

namespace rampart::eval {

/// The kinds of frame a sandboxed evaluation worker writes (security::write_frame).
enum WorkerFrame : uint32_t {
  kWorkerHeartbeat = 1,  ///< a model call finished (empty payload)
  kWorkerResult = 2,     ///< the measurements (eval::encode_measurements), the last frame
  kWorkerFailure = 3,    ///< why the worker stopped: "<kind>\n<message>", the last frame
};

}  // namespace rampart::eval
