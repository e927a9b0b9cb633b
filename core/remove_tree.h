#pragma once

#include <string>

namespace rampart::core {

/// Removes `path` and everything below it, like `rm -rf`: symbolic links are removed, never
/// followed. A missing path is not an error. Returns false when something could not be removed
/// (it never throws: callers use it to clean up temporary folders).
///
/// Use it instead of std::filesystem::remove_all, which Rampart does not call: PyTorch's 2.x
/// wheels export a static copy of libstdc++'s <filesystem> from libtorch.so (pytorch/pytorch
/// issue 133437), and a program linked against them that calls remove_all jumps into that copy
/// and crashes on a null function pointer (seen with libtorch 2.11.0+cu130: `rampart train`
/// with `distributed:` ended with SIGSEGV after the run; docs/gpu-validation.md).
/// tests/core/remove_tree_test.cpp also checks that no source calls remove_all again.
///
/// Example:
///   core::remove_tree(scratch_dir);
bool remove_tree(const std::string& path) noexcept;

}  // namespace rampart::core
