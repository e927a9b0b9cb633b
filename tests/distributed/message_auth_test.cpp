// Message authentication: the tag binds run id, round, rank and payload; key files are checked.
#include "distributed/message_auth.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <fstream>

#include "core/error.h"
#include "distributed/update_frame.h"
#include "support/test_support.h"

using namespace rampart;

TEST_CASE("the update tag binds run, round, rank and payload, frames are checked in order",
          "[distributed][auth]") {
  distributed::Key key{}, other{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i), other[i] = 7;
  const uint8_t payload[4] = {1, 2, 3, 4};
  const auto tag = distributed::message_tag(key, "run", 5, 2, payload, 4);
  CHECK(distributed::tags_equal(tag, distributed::message_tag(key, "run", 5, 2, payload, 4)));
  CHECK_FALSE(distributed::tags_equal(tag, distributed::message_tag(other, "run", 5, 2, payload, 4)));
  CHECK_FALSE(distributed::tags_equal(tag, distributed::message_tag(key, "run2", 5, 2, payload, 4)));
  CHECK_FALSE(distributed::tags_equal(tag, distributed::message_tag(key, "run", 6, 2, payload, 4)));
  CHECK_FALSE(distributed::tags_equal(tag, distributed::message_tag(key, "run", 5, 3, payload, 4)));
  const uint8_t changed[4] = {1, 2, 3, 5};
  CHECK_FALSE(distributed::tags_equal(tag, distributed::message_tag(key, "run", 5, 2, changed, 4)));

  const at::Tensor update = at::arange(6, at::kFloat);
  const at::Tensor frame = distributed::pack_update(update, 3, 1, "run", &key);
  CHECK(frame.numel() == distributed::frame_bytes(6));
  const auto ok = distributed::unpack_update(frame, 6, 3, 1, "run", &key, 0);
  REQUIRE(ok.rejected.empty());
  CHECK(at::equal(ok.update, update));
  CHECK(distributed::unpack_update(frame, 5, 3, 1, "run", &key, 0).rejected.find("wrong size") == 0);
  CHECK(distributed::unpack_update(frame, 6, 3, 2, "run", &key, 0).rejected ==
        "claims rank 1 from rank 2's slot");
  CHECK(distributed::unpack_update(frame, 6, 4, 1, "run", &key, 0).rejected ==
        "round 3 in round 4 (replayed)");
  CHECK(distributed::unpack_update(frame, 6, 2, 1, "run", &key, 0).rejected ==
        "round 3 in round 2 (out of round)");
  CHECK(distributed::unpack_update(frame, 6, 3, 1, "run", &other, 0).rejected ==
        "bad authentication tag (forged or tampered)");
  at::Tensor tampered = frame.clone();
  tampered[30] = static_cast<uint8_t>(tampered[30].item<uint8_t>() ^ 1);
  CHECK(distributed::unpack_update(tampered, 6, 3, 1, "run", &key, 0).rejected ==
        "bad authentication tag (forged or tampered)");
  CHECK(distributed::unpack_update(frame, 6, 3, 1, "run", &key, 5.0).rejected.find("norm 7.4") == 0);
  const at::Tensor nan = distributed::pack_update(at::full({6}, NAN), 3, 1, "run", &key);
  CHECK(distributed::unpack_update(nan, 6, 3, 1, "run", &key, 0).rejected ==
        "non-finite values (NaN or Inf)");
  // One bad coordinate among finite ones; finite values whose squares overflow float are not
  // "non-finite" (their norm is just above any bound).
  at::Tensor one_inf = at::ones({6});
  one_inf[4] = -INFINITY;
  CHECK(distributed::unpack_update(distributed::pack_update(one_inf, 3, 1, "run", &key), 6, 3, 1,
                                   "run", &key, 0).rejected == "non-finite values (NaN or Inf)");
  const at::Tensor huge = distributed::pack_update(at::full({6}, 1e30F), 3, 1, "run", &key);
  CHECK(distributed::unpack_update(huge, 6, 3, 1, "run", &key, 0).rejected.empty());
  CHECK(distributed::unpack_update(huge, 6, 3, 1, "run", &key, 1e6).rejected.find("norm ") == 0);
  // check_frame judges the frame where it lies, with the same verdicts.
  CHECK(distributed::check_frame(frame.data_ptr<uint8_t>(), frame.numel(), 6, 3, 1, "run", &key,
                                 0).empty());
  CHECK(distributed::check_frame(tampered.data_ptr<uint8_t>(), tampered.numel(), 6, 3, 1, "run",
                                 &key, 0) == "bad authentication tag (forged or tampered)");
}

TEST_CASE("key files: one key per rank, private, malformed lines named", "[distributed][auth]") {
  const std::string dir = test::make_temp_dir("keys");
  const auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  };
  const std::string hex(64, 'a');
  const auto ring = distributed::read_key_file(
      write("ok.keys", "# rank key\n0 " + hex + "\n1 " + std::string(64, '0') + "  # worker\n", 0600));
  CHECK(ring.keys.size() == 2);
  CHECK(ring.at(0)[0] == 0xAA);
  CHECK_THROWS_WITH(distributed::read_key_file(write("open.keys", "0 " + hex + "\n", 0644)),
                    Catch::Contains("readable by other users"));
  CHECK_THROWS_WITH(distributed::read_key_file(write("short.keys", "0 " + hex + "\n1 abc\n", 0600)),
                    Catch::Contains("short.keys:2: expected '<rank> <64 hex digits>'"));
  CHECK_THROWS_WITH(distributed::read_key_file(write("twice.keys", "0 " + hex + "\n0 " + hex + "\n", 0600)),
                    Catch::Contains("twice.keys:2: rank 0 has a key already"));
  CHECK_THROWS_AS(distributed::read_key_file(dir + "/missing.keys"), ConfigError);
}
