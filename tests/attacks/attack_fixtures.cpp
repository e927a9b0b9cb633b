#include "attack_fixtures.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <limits>

#include "core/config_node.h"
#include "datasets/idx_reader.h"
#include "models/checkpoint.h"
#include "support/fixtures.h"
#include "support/intake_options.h"
#include "training/trainer.h"

namespace rampart::test {

LinearModel::LinearModel(int64_t classes, int64_t features, uint64_t seed) {
  torch::manual_seed(seed);
  w_ = torch::randn({classes, features}) * 0.3;
  b_ = torch::zeros({classes});
}

at::Tensor LinearModel::forward(const at::Tensor& x) { return x.flatten(1).mm(w_.t()) + b_; }

at::Tensor LinearModel::minimal_distance(const at::Tensor& x, const at::Tensor& y,
                                         attacks::Norm norm) {
  const at::Tensor z = forward(x);
  at::Tensor best = at::full({x.size(0)}, std::numeric_limits<double>::infinity());
  for (int64_t j = 0; j < w_.size(0); ++j) {
    const at::Tensor gap = z.gather(1, y.unsqueeze(1)).squeeze(1) - z.select(1, j);
    const at::Tensor normal = w_.index_select(0, y) - w_[j];
    const at::Tensor dual = norm == attacks::Norm::kL2 ? normal.norm(2, 1) : normal.abs().sum(1);
    best = at::where(y.eq(j), best, at::minimum(best, gap / dual));
  }
  return best;
}

std::shared_ptr<models::SmallCNN> random_cnn(uint64_t seed) {
  torch::manual_seed(seed);
  return std::make_shared<models::SmallCNN>(models::InputSpec{}, 10);
}

at::Tensor predicted_labels(models::Classifier& net, const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  return net.forward(x).argmax(1);
}

std::string trained_fmnist_checkpoint() {
  if (!std::filesystem::exists(kFmnist + "train-images-idx3-ubyte.gz")) {
    skip_without_fixture("Fashion-MNIST (Debian package dataset-fashion-mnist)");
    return "";
  }
  const std::string dir = std::string(RAMPART_BINARY_DIR) + "/test-fixtures/fmnist_small_cnn";
  const std::string checkpoint = dir + "/checkpoint.safetensors";
  std::filesystem::create_directories(dir);
  // One test process trains it; the others (ctest -j) wait on the lock and then read it.
  const int lock = ::open((dir + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  ::flock(lock, LOCK_EX);
  if (!std::filesystem::exists(checkpoint)) {
    // The quickstart recipe for one epoch: about 88% test accuracy in under a minute.
    const std::string config =
        "seed: 0\nthreads: 0\nmodel: {arch: small_cnn}\n"
        "data: {format: idx, images: " +
        kFmnist + "train-images-idx3-ubyte.gz, labels: " + kFmnist +
        "train-labels-idx1-ubyte.gz, batch_size: 128}\n"
        "train: {epochs: 1, optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true},\n"
        "        export_torchscript: false, output: " +
        dir + "}\n";
    training::train(training::parse_train_config(core::parse_config(config, "fixture")), {});
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return checkpoint;
}

std::shared_ptr<models::SmallCNN> trained_fmnist_cnn() {
  const std::string checkpoint = trained_fmnist_checkpoint();
  if (checkpoint.empty()) return nullptr;
  auto model = std::make_shared<models::SmallCNN>(models::InputSpec{}, 10);
  models::load_weights(*model, models::read_checkpoint(checkpoint, test::unpinned()), checkpoint);
  model->eval();
  return model;
}

datasets::Dataset fmnist_test(int64_t n) {
  return datasets::read_idx(kFmnist + "t10k-images-idx3-ubyte.gz",
                            kFmnist + "t10k-labels-idx1-ubyte.gz")
      .take(n);
}

datasets::Dataset clean_correct(models::Model& model, const datasets::Dataset& data) {
  torch::NoGradGuard no_grad;
  const at::Tensor keep = model.forward(data.images).argmax(1).eq(data.labels).nonzero().squeeze(1);
  datasets::Dataset out = data;
  out.images = data.images.index_select(0, keep);
  out.labels = data.labels.index_select(0, keep);
  return out;
}

}  // namespace rampart::test
