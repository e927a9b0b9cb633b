#include "core/parallel_for.h"
#include "kernels/argmax_row.h"
#include "kernels/cpu/step_kernels.h"

namespace rampart::kernels::cpu {

void update_fooled(bool* fooled, const float* logits, const int64_t* labels, int64_t samples,
                   int64_t classes, bool targeted) {
  at::parallel_for(0, samples, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const bool hit = argmax_row(logits + i * classes, classes) == labels[i];
      fooled[i] = fooled[i] || (targeted ? hit : !hit);
    }
  });
}

}  // namespace rampart::kernels::cpu
