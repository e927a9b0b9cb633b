#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang++, AddressSanitizer + UndefinedBehaviorSanitizer)
# in build-fuzz/ and runs each for FUZZ_SECONDS (default 30) from the seeds of
# fuzz/make_seeds.py, keeping the corpus in build-fuzz/corpus/. A crash, a sanitizer report,
# a leak or an unexpected exception fails (exit 1) and leaves the input in build-fuzz/.
#   tools/fuzz.sh                                  # every target, 30 s each (CI: 20 s)
#   FUZZ_SECONDS=600 FUZZ_TARGETS=fuzz_zip tools/fuzz.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${FUZZ_SECONDS:-30}
targets=${FUZZ_TARGETS:-fuzz_zip fuzz_model_format fuzz_operator_list fuzz_pickle fuzz_safetensors fuzz_idx fuzz_npy}
mkdir -p build-fuzz
if [ ! -f build-fuzz/build.ninja ]; then
  CXX=${FUZZ_CXX:-clang++} cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      > build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log; exit 1; }
fi
cmake --build build-fuzz > build-fuzz/build.log 2>&1 || { tail -n 40 build-fuzz/build.log; exit 1; }
python3 fuzz/make_seeds.py build-fuzz/seeds
status=0
for t in $targets; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  if build-fuzz/"$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
      -artifact_prefix="build-fuzz/crashes/$t/" -print_final_stats=1 \
      "build-fuzz/corpus/$t" "build-fuzz/seeds/$t" > "build-fuzz/$t.log" 2>&1; then
    runs=$(grep -a -m1 'stat::number_of_executed_units' "build-fuzz/$t.log" | awk '{print $2}')
    echo "$t: ${seconds}s, ${runs:-?} inputs, no crash"
  else
    echo "$t: FAILED (see build-fuzz/$t.log)"
    grep -a -E "ERROR|SUMMARY|terminate|==[0-9]+==" "build-fuzz/$t.log" | head -n 20
    status=1
  fi
done
exit $status
