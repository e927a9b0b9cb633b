# Every dependency comes from Debian packages (or, for libtorch 2.x, from
# CMAKE_PREFIX_PATH). Nothing is downloaded.
find_package(Torch REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(Threads REQUIRED)
# at::parallel_for forks only in code compiled with OpenMP (core/parallel_for.h).
find_package(OpenMP REQUIRED COMPONENTS CXX)
# libseccomp: the system-call filter of the model intake's sandboxed probe.
find_path(SECCOMP_INCLUDE_DIR seccomp.h REQUIRED)
find_library(SECCOMP_LIBRARY seccomp REQUIRED)
if(RAMPART_BUILD_CLI)
  find_package(CLI11 REQUIRED)
endif()

# libtorch's imported target carries no usage requirements on some builds; gather them here.
add_library(rampart_torch INTERFACE)
target_link_libraries(rampart_torch INTERFACE ${TORCH_LIBRARIES})
# libtorch 2.x ships a newer fmt in its include folder (torch/include/fmt) than the one Debian's
# spdlog 1.10 is built against (fmt 9): spdlog's own fmt must come first wherever both are seen.
set(_rampart_fmt_includes "")
if(TARGET fmt::fmt)
  get_target_property(_rampart_fmt_includes fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
endif()
target_include_directories(rampart_torch SYSTEM INTERFACE ${_rampart_fmt_includes} ${TORCH_INCLUDE_DIRS})
separate_arguments(_rampart_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(rampart_torch INTERFACE ${_rampart_torch_flags})

# c10d's Gloo backend (distributed/): c10d's ProcessGroupGloo.hpp needs Gloo's headers and
# USE_C10D_GLOO. Debian's libtorch 1.13 links the shared libgloo of libgloo-dev, and Rampart
# links it too. PyTorch's own 2.x builds (pip wheels, the libtorch archive) carry Gloo inside
# libtorch_cpu and ship no Gloo headers: set RAMPART_GLOO_INCLUDE_DIR to the headers of the Gloo
# that libtorch was built with (its headers must match c10d's: Debian's 2022 Gloo lacks the store
# methods that 2.x's GlooStore overrides), and nothing more is linked (a second libgloo would
# load a second, older Gloo). AUTO builds the module when Gloo's headers are found; OFF builds
# everything else, and `rampart train`/`eval` then refuse a config's `distributed:` section.
set(RAMPART_WITH_DISTRIBUTED AUTO CACHE STRING "Build distributed/ (c10d Gloo): AUTO, ON or OFF")
set_property(CACHE RAMPART_WITH_DISTRIBUTED PROPERTY STRINGS AUTO ON OFF)
set(RAMPART_HAVE_DISTRIBUTED OFF)
set(RAMPART_GLOO_LINK "")
if(NOT RAMPART_WITH_DISTRIBUTED STREQUAL "OFF")
  find_path(RAMPART_GLOO_INCLUDE_DIR gloo/rendezvous/store.h HINTS ${TORCH_INCLUDE_DIRS})
  if(Torch_VERSION VERSION_LESS 2)
    find_library(RAMPART_GLOO_LIBRARY gloo)
    set(RAMPART_GLOO_LINK gloo)
  else()
    set(RAMPART_GLOO_LIBRARY "in libtorch_cpu")
  endif()
  if(RAMPART_GLOO_INCLUDE_DIR AND RAMPART_GLOO_LIBRARY)
    set(RAMPART_HAVE_DISTRIBUTED ON)
  elseif(RAMPART_WITH_DISTRIBUTED STREQUAL "ON")
    message(FATAL_ERROR "RAMPART_WITH_DISTRIBUTED=ON needs Gloo's headers (found: "
                        "'${RAMPART_GLOO_INCLUDE_DIR}') and, for libtorch 1.x, libgloo (found: "
                        "'${RAMPART_GLOO_LIBRARY}'): install libgloo-dev or set RAMPART_GLOO_INCLUDE_DIR")
  endif()
endif()
message(STATUS "Rampart: distributed (c10d Gloo) ${RAMPART_HAVE_DISTRIBUTED} "
               "(libtorch ${Torch_VERSION}, Gloo headers ${RAMPART_GLOO_INCLUDE_DIR})")

# OpenCV: AUTO uses it when found; OFF builds without the image-folder reader and image grids.
set(RAMPART_HAVE_OPENCV OFF)
if(NOT RAMPART_WITH_OPENCV STREQUAL "OFF")
  if(RAMPART_WITH_OPENCV STREQUAL "ON")
    find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
  else()
    find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  endif()
  if(OpenCV_FOUND)
    set(RAMPART_HAVE_OPENCV ON)
  endif()
endif()
message(STATUS "Rampart: OpenCV ${RAMPART_HAVE_OPENCV}")

# CUDA: AUTO turns it on only when nvcc and a CUDA-enabled libtorch are both found.
# nvcc alone (CUDA 13 at /usr/local/cuda, also on CPU machines) builds the raw CUDA twins of
# kernels/ so that CI proves they compile; RAMPART_HAVE_NVCC says so.
set(RAMPART_HAVE_CUDA OFF)
set(RAMPART_HAVE_NVCC OFF)
set(RAMPART_CUDA_ARCHITECTURES "80;90" CACHE STRING "GPU architectures of the CUDA kernels")
if(NOT RAMPART_WITH_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(RAMPART_HAVE_NVCC ON)
  endif()
  set(_rampart_torch_cuda OFF)
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
    set(_rampart_torch_cuda ON)
  endif()
  if(CMAKE_CUDA_COMPILER AND _rampart_torch_cuda)
    set(RAMPART_HAVE_CUDA ON)
  elseif(RAMPART_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "RAMPART_WITH_CUDA=ON needs nvcc (found: '${CMAKE_CUDA_COMPILER}') "
                        "and a CUDA-enabled libtorch (found: ${_rampart_torch_cuda})")
  endif()
endif()
if(RAMPART_HAVE_NVCC)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES ${RAMPART_CUDA_ARCHITECTURES})
  endif()
  enable_language(CUDA)
endif()
if(RAMPART_HAVE_CUDA)
  # Code that needs CUDA is guarded by RAMPART_WITH_CUDA (set on every module target).
  target_compile_definitions(rampart_torch INTERFACE RAMPART_WITH_CUDA=1)
endif()
message(STATUS "Rampart: CUDA ${RAMPART_HAVE_CUDA} (nvcc for the raw CUDA kernels: ${RAMPART_HAVE_NVCC})")
