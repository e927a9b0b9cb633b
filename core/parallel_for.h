#pragma once
// at::parallel_for for Rampart's own loops. ATen's OpenMP backend defines its parallel_for in a
// header, and forks only where the translation unit is compiled with OpenMP (ATen/ParallelOpenMP.h
// sets INTRA_OP_PARALLEL under _OPENMP): compiled without it, every loop runs on the calling
// thread whatever at::set_num_threads says. A module whose files include this header links
// OpenMP::OpenMP_CXX (CMake); this check keeps a new one from forgetting.
#include <ATen/Parallel.h>

#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "at::parallel_for would run on one thread here: link this module to OpenMP::OpenMP_CXX"
#endif
