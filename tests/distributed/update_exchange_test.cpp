// Real processes on loopback: four ranks fork()ed from the test, meeting in a FileStore, run
// aggregation rounds over c10d Gloo. Byzantine rank behaviour is scripted per round; every rank
// writes what it received, and the parent checks it.
#include "distributed/update_exchange.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <sstream>

#include "distributed/run_nonce.h"
#include "distributed/update_frame.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

constexpr int64_t kRanks = 4;
constexpr int64_t kD = 1000;

distributed::KeyRing test_keys() {
  distributed::KeyRing ring;
  for (int64_t r = 0; r < kRanks; ++r) {
    distributed::Key key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(31 * r + i);
    ring.keys[r] = key;
  }
  return ring;
}

// Rank `rank` of kRanks, meeting the others in a FileStore under `dir`.
distributed::GroupSpec group_spec(int64_t rank, const std::string& dir) {
  distributed::GroupSpec spec;
  spec.rank = rank;
  spec.world_size = kRanks;
  spec.file_store = dir + "/store";
  spec.timeout = std::chrono::milliseconds(30000);
  return spec;
}

// One rank's life: rounds 1..5, each with a scripted misbehaviour.
//   1: all honest; 2: rank 3 signs with a key it made up (forged); 3: rank 2's payload is
//   changed after signing (tampered); 4: rank 1 sends its round-3 frame again (replayed);
//   5: rank 3 sends NaN, correctly signed.
void run_rank(int64_t rank, const std::string& dir) {
  distributed::GlooGroup group(group_spec(rank, dir));
  const distributed::KeyRing keys = test_keys();
  distributed::UpdateExchange exchange(group, "test-run", &keys, /*max_norm=*/0);
  defenses::aggregation::AggregatorSpec mean_spec;
  defenses::aggregation::RobustAggregator aggregator(mean_spec);
  std::ofstream out(dir + "/rank" + std::to_string(rank) + ".txt");
  at::Tensor previous;
  for (int64_t round = 1; round <= 5; ++round) {
    const at::Tensor update = at::full({kD}, static_cast<float>(rank + 1));
    at::Tensor frame = exchange.pack(update, round);
    if (round == 2 && rank == 3) {
      distributed::Key made_up{};
      made_up.fill(0x5A);
      frame = distributed::pack_update(update, round, rank, "test-run", &made_up);
    } else if (round == 3 && rank == 2) {
      frame[40] = static_cast<uint8_t>(frame[40].item<uint8_t>() ^ 0x10);
    } else if (round == 4 && rank == 1) {
      frame = previous;
    } else if (round == 5 && rank == 3) {
      frame = exchange.pack(at::full({kD}, NAN), round);
    }
    previous = frame;
    const auto outcome = exchange.round_with_frame(frame, kD, round, &aggregator);
    out << round << " " << outcome.aggregate[0].item<float>() << " "
        << outcome.aggregate.sum().item<double>() << "\n";
    if (rank == 0) {
      std::ofstream log(dir + "/rejected.txt", std::ios::app);
      for (const auto& [r, why] : outcome.rejected) log << round << " " << r << " " << why << "\n";
    }
  }
}

// Forks kRanks processes running body(rank); an exception's message goes to
// dir/error<rank>.txt. Returns each rank's exit status.
std::vector<int> fork_ranks(const std::string& dir, const std::function<void(int64_t)>& body) {
  std::vector<pid_t> children;
  for (int64_t rank = 0; rank < kRanks; ++rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      int code = 0;
      try {
        body(rank);
      } catch (const std::exception& e) {
        std::ofstream(dir + "/error" + std::to_string(rank) + ".txt") << e.what();
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  std::vector<int> statuses;
  for (pid_t pid : children) {
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    statuses.push_back(status);
  }
  return statuses;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("four ranks on c10d Gloo: rounds aggregate the accepted updates, and a forged, a "
          "tampered, a replayed and a NaN update are refused and named",
          "[distributed][processes]") {
  const std::string dir = test::make_temp_dir("exchange");
  const std::vector<int> statuses = fork_ranks(dir, [&](int64_t rank) { run_rank(rank, dir); });
  for (std::size_t rank = 0; rank < statuses.size(); ++rank) {
    INFO("rank " << rank << ": " << read_file(dir + "/error" + std::to_string(rank) + ".txt"));
    CHECK(WIFEXITED(statuses[rank]));
    CHECK(WEXITSTATUS(statuses[rank]) == 0);
  }
  // Means of the accepted updates (rank r sends r + 1): all; without 3; without 2; without 1;
  // without 3.
  const std::string expected = "1 2.5 2500\n2 2 2000\n3 2.33333 2333.33\n4 2.66667 2666.67\n5 2 2000\n";
  for (int64_t rank = 0; rank < kRanks; ++rank) {
    INFO("rank " << rank);
    CHECK(read_file(dir + "/rank" + std::to_string(rank) + ".txt") == expected);
  }
  CHECK(read_file(dir + "/rejected.txt") ==
        "2 3 bad authentication tag (forged or tampered)\n"
        "3 2 bad authentication tag (forged or tampered)\n"
        "4 1 round 3 in round 4 (replayed)\n"
        "5 3 non-finite values (NaN or Inf)\n");
}

// A rank refused for its values (NaN, above the norm bound: its round and tag had passed) is
// Byzantine, so the rule runs with f lowered by those ranks: one Inf rank of 5 with f = 2 used to
// stop the run (4 accepted, 5 needed). Refusals that a network adversary can cause to an honest
// rank's frame (a bad tag here) keep f, and too few accepted updates stop the round.
TEST_CASE("a round with fewer accepted updates than the rule needs stops with one clear error",
          "[distributed][processes]") {
  const auto run = [](const std::string& dir, bool forged) {
    return fork_ranks(dir, [&](int64_t rank) {
      distributed::GlooGroup group(group_spec(rank, dir));
      const distributed::KeyRing keys = test_keys();
      distributed::UpdateExchange exchange(group, "test-run", &keys, 0);
      defenses::aggregation::AggregatorSpec rule;
      rule.name = "trimmed_mean";
      rule.f = 1;  // needs 3 of the 4 updates
      defenses::aggregation::RobustAggregator aggregator(rule);
      const at::Tensor update = at::full({kD}, static_cast<float>(rank + 1));
      at::Tensor frame = exchange.pack(update, 1);
      if (rank >= 2) {  // ranks 2 and 3 misbehave
        distributed::Key made_up{};
        made_up.fill(0x5A);
        frame = forged ? distributed::pack_update(update, 1, rank, "test-run", &made_up)
                       : exchange.pack(at::full({kD}, NAN), 1);
      }
      const auto outcome = exchange.round_with_frame(frame, kD, 1, rank == 0 ? &aggregator : nullptr);
      std::ofstream(dir + "/rank" + std::to_string(rank) + ".txt") << outcome.aggregate[0].item<float>();
    });
  };
  const std::string forged = test::make_temp_dir("quorum-forged");
  run(forged, true);
  CHECK(read_file(forged + "/error0.txt") ==
        "distributed: round 1 accepted 2 of 4 updates, fewer than the 3 the aggregator needs "
        "(2f + 1); rank 2: bad authentication tag (forged or tampered); rank 3: bad "
        "authentication tag (forged or tampered)");
  const std::string values = test::make_temp_dir("quorum-values");
  const std::vector<int> statuses = run(values, false);
  for (int64_t rank = 0; rank < kRanks; ++rank) {
    INFO("rank " << rank << ": " << read_file(values + "/error" + std::to_string(rank) + ".txt"));
    CHECK(WIFEXITED(statuses[static_cast<std::size_t>(rank)]));
    CHECK(WEXITSTATUS(statuses[static_cast<std::size_t>(rank)]) == 0);
    CHECK(read_file(values + "/rank" + std::to_string(rank) + ".txt") == "1.5");  // mean of 1, 2
  }
}

// The run id was the config's hash alone: every launch of one config tagged its frames alike,
// so a frame recorded in one launch (a rerun, a --resume restarting an epoch's round numbers)
// verified in the next. Each launch now mixes in a nonce from every rank.
TEST_CASE("every launch has its own run id, and a frame of an earlier launch is refused",
          "[distributed][processes][auth]") {
  const std::string dir = test::make_temp_dir("launch-nonce");
  const std::vector<int> statuses = fork_ranks(dir, [&](int64_t rank) {
    distributed::GlooGroup group(group_spec(rank, dir));
    const distributed::KeyRing keys = test_keys();
    const std::string first = distributed::launch_run_id(group, "config-hash", &keys);
    const std::string second = distributed::launch_run_id(group, "config-hash", &keys);
    std::ofstream(dir + "/ids" + std::to_string(rank) + ".txt") << first << "\n" << second << "\n";
    // Rank 1 replays its frame of the first launch, right round and all, in the second.
    distributed::UpdateExchange earlier(group, first, &keys, 0);
    const at::Tensor recorded = earlier.pack(at::full({kD}, 5.0F), 1);
    distributed::UpdateExchange exchange(group, second, &keys, 0);
    defenses::aggregation::RobustAggregator mean{defenses::aggregation::AggregatorSpec{}};
    const at::Tensor frame = rank == 1 ? recorded : exchange.pack(at::full({kD}, 1.0F), 1);
    const auto outcome = exchange.round_with_frame(frame, kD, 1, rank == 0 ? &mean : nullptr);
    if (rank == 0) {
      std::ofstream log(dir + "/rejected.txt");
      for (const auto& [r, why] : outcome.rejected) log << r << " " << why << "\n";
    }
  });
  for (std::size_t rank = 0; rank < statuses.size(); ++rank) {
    INFO("rank " << rank << ": " << read_file(dir + "/error" + std::to_string(rank) + ".txt"));
    CHECK(WIFEXITED(statuses[rank]));
    CHECK(WEXITSTATUS(statuses[rank]) == 0);
  }
  const std::string ids = read_file(dir + "/ids0.txt");
  for (int64_t rank = 1; rank < kRanks; ++rank) {
    CHECK(read_file(dir + "/ids" + std::to_string(rank) + ".txt") == ids);  // one id per launch
  }
  const std::string first = ids.substr(0, ids.find('\n'));
  const std::string second = ids.substr(ids.find('\n') + 1, first.size());
  CHECK(first.rfind("config-hash/", 0) == 0);
  CHECK(first.size() == std::string("config-hash/").size() + 64);
  CHECK(first != second);
  CHECK(read_file(dir + "/rejected.txt") == "1 bad authentication tag (forged or tampered)\n");
}
