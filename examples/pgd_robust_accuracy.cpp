// Loads a TorchScript model, runs PGD-20 at eps 0.1 on 1000 Fashion-MNIST test points and
// prints the robust accuracy.   pgd_robust_accuracy MODEL.pt SHA256
// (the SHA-256 pins the file: `rampart train` prints it, `sha256sum` computes it)
#include <rampart/attacks/pgd.h>
#include <rampart/core/error.h>
#include <rampart/core/heap_tuning.h>
#include <rampart/datasets/idx_reader.h>
#include <rampart/models/model.h>
#include <rampart/models/torchscript_loader.h>

#include <cstdio>

using namespace rampart;

int main(int argc, char** argv) {
  core::tune_heap_for_tensors();  // glibc keeps each step's tensor memory: about 3x faster on CPU
  if (argc != 3) {
    std::fprintf(stderr, "usage: pgd_robust_accuracy MODEL.pt SHA256\n");
    return 2;
  }
  security::IntakeOptions intake;  // the model file is untrusted until its hash matches
  intake.sha256 = argv[2];
  models::LoadedTorchScript loaded;
  try {
    loaded = models::load_torchscript(argv[1], intake);
  } catch (const rampart::Error& e) {  // rejected by the intake (exit 3), unreadable (4), ...
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.code());
  }
  models::TorchScriptModel model(loaded.module);
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  auto test =
      datasets::read_idx(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz")
          .take(1000);
  auto result = attacks::pgd(model, test.images, test.labels,
                             attacks::PGDOptions(0.1).steps(20).step_size(0.01).early_stop(true));
  // Robust: classified correctly clean and under attack.
  torch::NoGradGuard no_grad;
  at::Tensor clean_ok = model.forward(test.images).argmax(1).eq(test.labels);
  double robust =
      clean_ok.logical_and(result.success.logical_not()).to(at::kDouble).mean().item<double>();
  std::printf("PGD-20 robust accuracy at eps 0.1: %.1f%%\n", robust * 100);
}
