// Trains Rampart's small CNN on a synthetic task through the C++ API, reloads the
// checkpoint it wrote and checks the reloaded model gives the same accuracy.
//   train_synthetic OUTPUT_DIR
#include <rampart/core/config_node.h>
#include <rampart/core/error.h>
#include <rampart/core/heap_tuning.h>
#include <rampart/datasets/synthetic.h>
#include <rampart/models/checkpoint.h>
#include <rampart/training/trainer.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace rampart;
  core::tune_heap_for_tensors();  // as `rampart` does: glibc keeps each step's tensor memory
  if (argc != 2) {
    std::fprintf(stderr, "usage: train_synthetic OUTPUT_DIR\n");
    return 2;
  }
  try {
    const std::string config_text =
        "seed: 3\nthreads: 0\n"
        "model: {arch: small_cnn, num_classes: 4, input: {shape: [1, 16, 16]}}\n"
        "data: {format: synthetic, num_samples: 1024, seed: 5, sample_seed: 1, batch_size: 64}\n"
        "validation: {format: synthetic, num_samples: 256, seed: 5, sample_seed: 2}\n"
        "train: {epochs: 2, optimizer: {name: adam, lr: 0.002}, export_torchscript: false,\n"
        "        output: " +
        std::string(argv[1]) + "}\n";
    const auto config = training::parse_train_config(core::parse_config(config_text, "example"));
    const training::TrainResult result = training::train(config, {});

    auto reloaded = models::make_classifier(config.model);
    security::IntakeOptions pinned;  // read back only the bytes training wrote
    pinned.sha256 = result.checkpoint_sha256;
    models::load_weights(*reloaded, models::read_checkpoint(result.checkpoint, pinned),
                         result.checkpoint);
    const auto test = datasets::make_synthetic(datasets::SyntheticOptions()
                                                   .num_samples(256)
                                                   .channels(1)
                                                   .height(16)
                                                   .width(16)
                                                   .num_classes(4)
                                                   .seed(5)
                                                   .sample_seed(2));
    const double reloaded_accuracy = training::accuracy(*reloaded, test, 256, c10::Device("cpu"));
    const double trained_accuracy = result.validation_accuracy.value_or(-1.0);
    std::printf("validation accuracy %.4f\nreloaded accuracy %.4f\n", trained_accuracy,
                reloaded_accuracy);
    return reloaded_accuracy == trained_accuracy ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
