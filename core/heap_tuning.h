#pragma once

namespace rampart::core {

/// Keeps glibc's malloc from handing tensor-sized blocks back to the kernel after every use.
///
/// glibc serves blocks of 128 KiB and more with mmap and trims the heap top past 128 KiB. It
/// raises both thresholds only after the process frees a large mmap'd block (reading a gzipped
/// IDX file happens to do that, reading a .npy file does not), and never past 32 MiB. Each
/// training or attack step's activations and gradients were then mapped, zero-filled by page
/// faults and unmapped again. Measured on 2 cores (docs/performance.md, "The heap between
/// training steps"): `rampart train` on 10,000 .npy points ran at 1,100 img/s with 1.49 million
/// minor faults, against 4,800 img/s and 42,000 faults tuned; PGD-20 on 1,000 points at batch
/// 250 took 13.6 s (0.94 million faults) against 4.9 s; audit-data's feature extraction at batch
/// 512 took 19 to 58 s against 6.0 s.
///
/// Serves every block from the heap (M_MMAP_MAX 0: no per-block mmap, so no 32 MiB ceiling) and
/// keeps up to 1 GiB free at its top (M_TRIM_THRESHOLD). A process holds on to what it freed,
/// up to that much, as a caching allocator would; its peak stays what it used. 256 MiB was not
/// enough: after a PGD at batch 512 the free top passed it, and each later attack faulted its
/// 300 MB back in.
///
/// Call once at the start of main(); `import rampart` calls it too (in Python, PGD-20 at batch
/// 250 took 11.0 s untuned, 4.1 s tuned). Does nothing, and returns false, where
/// RAMPART_HEAP_TUNING is 0 or off, where the user chose any of these settings (GLIBC_TUNABLES'
/// glibc.malloc.mmap_max, mmap_threshold or trim_threshold; MALLOC_MMAP_MAX_,
/// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), or where the C library is not glibc.
bool tune_heap_for_tensors();

}  // namespace rampart::core
