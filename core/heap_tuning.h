#pragma once

namespace rampart::core {

/// Keeps glibc's malloc from handing tensor-sized blocks back to the kernel after every use.
///
/// glibc serves blocks of 128 KiB and more with mmap and trims the heap top past 128 KiB. It
/// raises both thresholds only after the process frees a large mmap'd block, which reading a
/// gzipped IDX file happens to do and reading a .npy file does not. Without that, each training
/// step's activations and gradients (a few MiB) were mapped, zero-filled by page faults and
/// unmapped again: `rampart train` on 10,000 Fashion-MNIST points from .npy ran at 1,100 img/s
/// with 1.49 million minor faults, against 4,300 img/s and 37,500 faults with this tuning
/// (2 cores, 2 epochs; docs/performance.md). Sets the mmap threshold to 32 MiB (the most glibc
/// would raise it to by itself) and the trim threshold to 64 MiB (twice that, as glibc does).
///
/// Call once at the start of main(), before any thread starts. Does nothing, and returns false,
/// where the user chose either threshold (GLIBC_TUNABLES' glibc.malloc.mmap_threshold or
/// trim_threshold, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) or the C library is not glibc.
bool tune_heap_for_tensors();

}  // namespace rampart::core
