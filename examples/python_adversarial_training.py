"""Adversarial training in plain PyTorch with Rampart, then a robustness report and a gate.

Trains the small CNN on Fashion-MNIST with PGD-AT (Linf 0.1, 5 steps) by the recipe of
configs/fmnist_pgd_at.yaml: the first 55,000 training images, SGD with Nesterov momentum and a
cosine schedule, and after each epoch PGD-10 robust accuracy on 1,000 held-out training images
(from index 55,000) picks the epoch kept. Saves the kept model as TorchScript (model.pt, for
`rampart eval`), evaluates it with PGD-20 on the test set and writes the report.
    PYTHONPATH=build/python /usr/bin/python3 examples/python_adversarial_training.py \
        [--epochs 5] [--train-points 55000] [--validation-points 1000] [--test-points 1000] \
        [--out runs/python_pgd_at]
"""
import argparse
import copy
import gzip
import os

import numpy as np
import torch
import torch.nn.functional as F

import rampart

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(images: str, labels: str):
    with gzip.open(os.path.join(FMNIST, images)) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(FMNIST, labels)) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


class SmallCNN(torch.nn.Module):
    """The layers of Rampart's built-in small_cnn (conv 32, conv 64, fc 128)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = torch.nn.Linear(64 * 7 * 7, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return self.fc2(F.relu(self.fc1(h.flatten(1))))


def validation_robust_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """What `rampart train` keeps the epoch by: PGD-10 (step 2.5 * eps / 10, random start)
    robust accuracy, the clean-misclassified points counted as not robust."""
    model.eval()
    with torch.no_grad():
        correct = model(x).argmax(1).eq(y)
    result = rampart.pgd(model, x[correct], y[correct], eps=0.1, steps=10)
    return float((~result.success).sum()) / len(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-points", type=int, default=55000)
    parser.add_argument("--validation-points", type=int, default=1000)
    parser.add_argument("--test-points", type=int, default=1000)
    parser.add_argument("--out", default="runs/python_pgd_at")
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = read_idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    x_val = x[55000:55000 + args.validation_points]
    y_val = y[55000:55000 + args.validation_points]
    x, y = x[: min(args.train_points, 55000)], y[: min(args.train_points, 55000)]
    x_test, y_test = read_idx("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    model = SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4,
                                nesterov=True)
    steps_per_epoch = (len(x) + 127) // 128
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs * steps_per_epoch)
    step = 0
    best, best_state = -1.0, None
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), 128):
            idx = order[start:start + 128]
            stats = rampart.adversarial_training_step(model, optimizer, x[idx], y[idx],
                                                      method="pgd_at", eps=0.1, steps=5, seed=step)
            schedule.step()
            step += 1
        robust = validation_robust_accuracy(model, x_val, y_val)
        kept = robust > best
        if kept:
            best, best_state = robust, copy.deepcopy(model.state_dict())
        print(f"epoch {epoch + 1}: last batch loss {stats['loss']:.3f}, adversarial accuracy "
              f"{100 * stats['accuracy']:.1f}%, held-out PGD-10 {100 * robust:.1f}%"
              + (" (best)" if kept else ""), flush=True)
    model.load_state_dict(best_state)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    torch.jit.script(model).save(os.path.join(args.out, "model.pt"))
    report = rampart.evaluate(
        model, x_test[: args.test_points], y_test[: args.test_points],
        config={"attacks": [{"name": "pgd", "eps": 0.1, "steps": 20}],
                "gates": {"robust_accuracy": {"worst": {"min": 0.6}}}},
        out=os.path.join(args.out, "report"))
    print(f"clean {100 * report['clean']['accuracy']:.2f}%, PGD-20 robust "
          f"{100 * report['attacks'][0]['robust_accuracy']:.2f}% on {args.test_points} test images; "
          f"report in {args.out}/report (exit code {report['exit_code']})")


if __name__ == "__main__":
    main()
