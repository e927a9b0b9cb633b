#include "kernels/success_mask.h"

#include <ATen/ATen.h>

#include "kernels/cpu/step_kernels.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {

at::Tensor update_fooled_reference(const at::Tensor& fooled, const at::Tensor& logits,
                                   const at::Tensor& labels, bool targeted) {
  const at::Tensor predicted = logits.argmax(1);
  return fooled.logical_or(targeted ? predicted.eq(labels) : predicted.ne(labels));
}

void update_fooled_(at::Tensor& fooled, const at::Tensor& logits, const at::Tensor& labels,
                    bool targeted) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(1) >= 1,
              "update_fooled_: logits must be [N, C] with C >= 1, got ", logits.sizes());
  TORCH_CHECK(fooled.dim() == 1 && labels.dim() == 1 && fooled.size(0) == logits.size(0) &&
                  labels.size(0) == logits.size(0),
              "update_fooled_: fooled and labels must be [N] for logits ", logits.sizes());
  TORCH_CHECK(fooled.scalar_type() == at::kBool && labels.scalar_type() == at::kLong,
              "update_fooled_: fooled must be bool and labels int64");
  TORCH_CHECK(fooled.device() == logits.device() && labels.device() == logits.device(),
              "update_fooled_: fooled, logits and labels must be on one device");
  if (logits.scalar_type() != at::kFloat || logits.size(0) == 0) {
    if (logits.size(0) > 0) fooled.copy_(update_fooled_reference(fooled, logits, labels, targeted));
    return;
  }
  at::Tensor out = fooled.is_contiguous() ? fooled : fooled.contiguous();
  const at::Tensor lc = logits.contiguous(), yc = labels.contiguous();
  if (out.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::update_fooled_cuda(out, lc, yc, targeted);
#else
    TORCH_CHECK(false, "update_fooled_: CUDA tensor but Rampart was built without CUDA");
#endif
  } else {
    cpu::update_fooled(out.data_ptr<bool>(), lc.data_ptr<float>(), yc.data_ptr<int64_t>(),
                       lc.size(0), lc.size(1), targeted);
  }
  if (!out.is_same(fooled)) fooled.copy_(out);
}

}  // namespace rampart::kernels
