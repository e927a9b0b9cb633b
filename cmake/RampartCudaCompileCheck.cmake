# The sources that only a CUDA-enabled libtorch builds (the ATen wrappers of the CUDA twins, the
# CUDA-graph PGD path, the device dispatch) are compiled, not linked, against Debian's CPU-only
# libtorch when it ships the ATen/c10 CUDA headers and nvcc's CUDA runtime headers are found:
# CI then proves that this code compiles against libtorch 1.13 too. The one header CMake
# generates only in CUDA builds of libtorch, c10/cuda/impl/cuda_cmake_macros.h, is written here.
if(NOT RAMPART_HAVE_NVCC OR RAMPART_HAVE_CUDA)
  return()
endif()
find_path(RAMPART_TORCH_CUDA_HEADERS ATen/cuda/CUDAGraph.h PATHS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
find_package(CUDAToolkit QUIET)
if(NOT RAMPART_TORCH_CUDA_HEADERS OR NOT CUDAToolkit_FOUND)
  message(STATUS "Rampart: CUDA compile check off (libtorch's CUDA headers or the CUDA toolkit not found)")
  return()
endif()
set(_shim ${PROJECT_BINARY_DIR}/cuda-compile-check-include)
file(WRITE ${_shim}/c10/cuda/impl/cuda_cmake_macros.h
     "#pragma once\n// Written by Rampart's CUDA compile check (CUDA builds of libtorch generate it).\n#define C10_CUDA_BUILD_SHARED_LIBS\n")
add_library(rampart_cuda_compile_check OBJECT
  attacks/pgd.cpp
  attacks/pgd_cuda_graph.cpp
  kernels/apgd_step.cpp
  kernels/coordinate_stats.cpp
  kernels/cuda/aten_cuda.cpp
  kernels/cw_step.cpp
  kernels/l2_step.cpp
  kernels/linf_step.cpp
  kernels/pairwise_distances.cpp
  kernels/random_start.cpp
  kernels/square_step.cpp
  kernels/success_mask.cpp)
target_include_directories(rampart_cuda_compile_check PRIVATE ${PROJECT_SOURCE_DIR})
target_include_directories(rampart_cuda_compile_check SYSTEM PRIVATE ${_shim} ${CUDAToolkit_INCLUDE_DIRS})
target_link_libraries(rampart_cuda_compile_check PRIVATE rampart_core)
target_compile_definitions(rampart_cuda_compile_check PRIVATE RAMPART_WITH_CUDA=1)
# One translation unit (a unity build): the check only proves that the sources compile, and
# parsing libtorch's headers once instead of twelve times is most of its cost in CI.
set_target_properties(rampart_cuda_compile_check PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
message(STATUS "Rampart: CUDA compile check on (libtorch CUDA sources compiled against ${RAMPART_TORCH_CUDA_HEADERS})")
