# Sourced by tools/quickstart.sh and tools/test.sh (README's two commands). Debian 12's OpenBLAS
# (0.3.21) does not know CPUs released after it (this project's machines report family 6, model
# 207) and falls back to its generic Prescott (SSE3) kernels, which ran the audit's products
# here at about half the speed of its SkylakeX (AVX-512) kernels (docs/poisoning.md, "Cost").
# On a CPU with the AVX-512 subsets those kernels need, name them, unless the caller chose.
if [[ -z ${OPENBLAS_CORETYPE:-} && -r /proc/cpuinfo ]]; then
  cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
  if [[ $cpu_flags == *" avx512f "* && $cpu_flags == *" avx512bw "* &&
        $cpu_flags == *" avx512dq "* && $cpu_flags == *" avx512vl "* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  fi
  unset cpu_flags
fi
