#pragma once

#include <optional>

#include "eval/eval_config.h"
#include "eval/evaluation.h"
#include "eval/runner.h"

namespace rampart::distributed {

/// `rampart eval` with a `distributed:` section, as one rank: joins the group the environment
/// describes (distributed::group_from_environment), measures this rank's contiguous share of
/// the points (eval::run_eval_part; every rank reads the model through the intake and, for a
/// model with code, runs it in its own sandboxed worker), and sends its measurements to rank 0,
/// which writes the one report. Every random start depends on the point's global index, so the
/// report is a one-process run's point by point (a randomised transform excepted: a warning
/// says so). With `threads: 0`, each of the LOCAL_WORLD_SIZE local ranks takes an equal share
/// of the cores. Returns rank 0's evaluation; nothing on the other ranks.
std::optional<eval::Evaluation> evaluate_rank(eval::EvalConfig config,
                                              const eval::EvalOptions& options);

}  // namespace rampart::distributed
