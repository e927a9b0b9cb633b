#pragma once

// RAMPART_HOST_DEVICE marks the small inline helpers that the CPU twins (host compiler) and
// the CUDA twins (nvcc) share.
#ifdef __CUDACC__
#define RAMPART_HOST_DEVICE __host__ __device__
#else
#define RAMPART_HOST_DEVICE
#endif
