"""PGD-20 from Python, measured in one run (issue 19's speed bounds):
  - rampart.pgd on a ScriptModule vs the same attack timed inside C++ (_rampart.time_attack):
    the cost of crossing from Python (bound: <= 1.02x);
  - rampart.pgd on a plain nn.Module (the callback path) vs a plain PyTorch PGD loop on the same
    module, written as torchattacks writes it (bound: <= 1.15x);
  - for scale, the plain loop on the ScriptModule.
Small CNN (Rampart's small_cnn layers), Fashion-MNIST-shaped random batch, Linf 0.1, 20 steps
with a random start and no early stop (every attack does the same 20 forward/backward passes).
    PYTHONPATH=build/python /usr/bin/python3 bench/python_pgd_bench.py [--batch 256] [--repeats 7]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import rampart  # noqa: E402
from rampart import _rampart  # noqa: E402
from python_adversarial_training import SmallCNN  # noqa: E402


def plain_pgd(model, x, y, eps=0.1, steps=20, alpha=0.0125):
    """torchattacks.PGD's loop: random start, signed gradient step, projection, clip."""
    x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(x_adv), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = x_adv.detach() + alpha * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1).detach()
    return x_adv


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = SmallCNN().eval()
    for p in net.parameters():  # as the attacks run: no parameter gradients
        p.requires_grad_(False)
    script = torch.jit.script(net)
    x = torch.rand(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    entry = {"name": "pgd", "eps": 0.1, "steps": 20, "early_stop": False}
    kwargs = dict(eps=0.1, steps=20, early_stop=False)
    runs = {
        "cpp_script": lambda: _rampart.time_attack(script, x, y, json.dumps(entry), 0.0, 1.0, 0, 1)[0],
        "python_script": lambda: timed(lambda: rampart.pgd(script, x, y, **kwargs), 1)[0],
        "python_callback": lambda: timed(lambda: rampart.pgd(net, x, y, **kwargs), 1)[0],
        "plain_loop_module": lambda: timed(lambda: plain_pgd(net, x, y), 1)[0],
        "plain_loop_script": lambda: timed(lambda: plain_pgd(script, x, y), 1)[0],
    }
    for fn in runs.values():  # warm-up (TorchScript profiling runs, allocator)
        fn()
    samples = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleaved, so that drifts hit every variant alike
        for name, fn in runs.items():
            samples[name].append(fn())
    median = {name: statistics.median(v) for name, v in samples.items()}
    print(f"PGD-20, batch {args.batch}, {args.threads} threads, torch {torch.__version__}, "
          f"median of {args.repeats}")
    for name, value in median.items():
        print(f"  {name:18s} {1000 * value:9.1f} ms")
    print(f"  python_script / cpp_script           = {median['python_script'] / median['cpp_script']:.3f}  (bound 1.02)")
    print(f"  python_callback / plain_loop_module  = {median['python_callback'] / median['plain_loop_module']:.3f}  (bound 1.15)")
    print(f"  python_script / plain_loop_module    = {median['python_script'] / median['plain_loop_module']:.3f}")


if __name__ == "__main__":
    main()
