#pragma once

#include <string>

#include "distributed/message_auth.h"
#include "distributed/process_group.h"

namespace rampart::distributed {

/// The run id every frame of this launch is tagged with: `config_hash` and a nonce every rank
/// put fresh randomness into. The config's hash alone repeats on every launch of the same
/// config (a rerun, a --resume that restarts an epoch's round numbers), so a frame recorded in
/// one launch would verify in the next.
///
/// Each rank sends 16 random bytes (OpenSSL RAND_bytes) straight to rank 0 (a gather, no rank
/// relays another's); rank 0 broadcasts them all with, for each rank, a tag under that rank's
/// key; each rank checks its tag and that its own bytes are in place, so no relay can swap in
/// an earlier launch's nonce. With `keys` null (no auth.keys) the tags are left out: the frames
/// carry none either. Collective: every rank of `group` calls it. Throws std::runtime_error
/// when a rank's check fails.
std::string launch_run_id(GlooGroup& group, const std::string& config_hash, const KeyRing* keys);

}  // namespace rampart::distributed
