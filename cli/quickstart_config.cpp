#include "cli/commands.h"
#include "datasets/dataset_spec.h"

namespace rampart::cli {

std::string quickstart_config_text(const std::string& out_dir) {
  const std::string dir = datasets::kFashionMnistDir;
  return R"(seed: 0
device: auto
threads: 0
model:
  arch: small_cnn
  num_classes: 10
  input: {shape: [1, 28, 28], range: [0.0, 1.0]}
data:
  format: idx
  images: )" + dir + R"(/train-images-idx3-ubyte.gz
  labels: )" + dir + R"(/train-labels-idx1-ubyte.gz
  batch_size: 128
validation:
  format: idx
  images: )" + dir + R"(/t10k-images-idx3-ubyte.gz
  labels: )" + dir + R"(/t10k-labels-idx1-ubyte.gz
  batch_size: 1000
train:
  epochs: 3
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}
  schedule: {name: cosine}
  output: )" + out_dir + "\n";
}

}  // namespace rampart::cli
