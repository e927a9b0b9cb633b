"""The setting of configs/fmnist_byzantine.yaml in one Python process, shared by the oracle
simulations next to this file (plain PyTorch, Debian's python3-torch): 10 honest clients + 2
Byzantine, Fashion-MNIST (first 40,000 training images), heterogeneity 0.5 (half IID, half
label-sorted, as ByzFL's gamma_similarity_niid), the 784-32-10 MLP, batch 25, lr 0.1, weight
decay 1e-4 on the server, worker momentum 0.9. Accuracy is on the first 2,000 test images.
Batches (`batches`): "random" (default) draws each client's batch without replacement within a
step, independently across steps; "epoch" walks one permutation of the shard per epoch (the same
for every client) in consecutive batches; "rampart" reproduces Rampart's shards and batch order
bit for bit (distributed/data_shards.cpp: at::randperm under a CPU generator seeded with the
seed; datasets/batcher.cpp: a Fisher-Yates shuffle driven by SplitMix64), so that with Rampart's
momentum a run follows `rampart train` step for step: the model's initial weights are already
the same (torch.manual_seed(seed), then the two Linear layers, as core::seed_everything does)."""
import gzip

import numpy as np
import torch
import torch.nn.functional as F

HONEST, F_BYZANTINE, GAMMA, BATCH, LR, WEIGHT_DECAY, BETA = 10, 2, 0.5, 25, 0.1, 1e-4, 0.9
DATA = "/usr/share/datasets/fashion-mnist/"


def _idx(path, offset):
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


_MASK = (1 << 64) - 1


class _SplitMix64:
    """datasets/random.h."""

    def __init__(self, seed):
        self.state = seed & _MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            r = self.next()
            if r >= threshold:
                return r % bound


def _rampart_order(n, seed, epoch):
    """datasets::Batcher's order of epoch `epoch`."""
    outer = _SplitMix64(seed)
    rng = _SplitMix64(_SplitMix64(outer.next() ^ epoch).next())
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return np.array(order)


def _rampart_shards(labels, seed):
    """distributed::shard_indices for the honest clients."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    n_iid = int(round(GAMMA * len(labels)))
    iid, rest = order[:n_iid], order[n_iid:]
    rest = rest[torch.sort(labels[rest], stable=True)[1]]
    parts = [torch.cat([iid[len(iid) * w // HONEST:len(iid) * (w + 1) // HONEST],
                        rest[len(rest) * w // HONEST:len(rest) * (w + 1) // HONEST]]) for w in range(HONEST)]
    smallest = min(len(p) for p in parts)
    return [p[:smallest].numpy() for p in parts]


class Setting:
    """Data, shards, model and the worker-momentum step of one seed."""

    def __init__(self, seed, byzfl_momentum=True, batches="random"):
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        x = _idx(DATA + "train-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
        y = _idx(DATA + "train-labels-idx1-ubyte.gz", 8).astype(np.int64)
        self.x, self.y = torch.tensor(x[:40000], dtype=torch.float32), torch.tensor(y[:40000])
        # configs/fmnist_byzantine.yaml's validation split: training images 55,000 to 56,999.
        self.xv, self.yv = torch.tensor(x[55000:57000], dtype=torch.float32), torch.tensor(y[55000:57000])
        xt = _idx(DATA + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:2000] / 255.0
        self.xt = torch.tensor(xt, dtype=torch.float32)
        self.yt = torch.tensor(_idx(DATA + "t10k-labels-idx1-ubyte.gz", 8)[:2000].astype(np.int64))
        if batches not in ("random", "epoch", "rampart"):
            raise ValueError("batches: random | epoch | rampart")
        self.batches, self.seed = batches, seed
        if batches == "rampart":
            self.shards = _rampart_shards(self.y, seed)
        else:
            perm = self.rng.permutation(len(self.y))
            n_iid = int(GAMMA * len(self.y))
            iid, rest = perm[:n_iid], perm[n_iid:]
            rest = rest[np.argsort(self.y[rest].numpy(), kind="stable")]
            self.shards = [np.concatenate([a, b])
                           for a, b in zip(np.array_split(iid, HONEST), np.array_split(rest, HONEST))]
        self.model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(),
                                         torch.nn.Linear(32, 10))
        self.params = list(self.model.parameters())
        # ByzFL's worker momentum starts from zero (the first vector is 0.1 g); Rampart's starts
        # at the first gradient.
        self.byzfl_momentum = byzfl_momentum
        self.momentum = [torch.zeros(sum(p.numel() for p in self.params)) for _ in range(HONEST)]
        self.step_count = 0
        self.epoch_order = (-1, None)

    def flat(self, grads):
        return torch.cat([g.reshape(-1) for g in grads])

    def batch(self, client):
        shard = self.shards[client]
        if self.batches != "random":
            epoch, k = divmod(self.step_count, len(shard) // BATCH)
            if self.epoch_order[0] != epoch:
                order = (_rampart_order(len(shard), self.seed, epoch) if self.batches == "rampart"
                         else self.rng.permutation(len(shard)))
                self.epoch_order = (epoch, order)
            b = shard[self.epoch_order[1][k * BATCH:(k + 1) * BATCH]]
        else:
            b = self.rng.choice(shard, BATCH, replace=False)
        return self.x[b], self.y[b]

    def gradient(self, x, y):
        return self.flat(torch.autograd.grad(F.cross_entropy(self.model(x), y), self.params))

    def momentum_step(self, client, g):
        """The client's new momentum vector (what it sends) from its gradient g."""
        if self.step_count == 0 and not self.byzfl_momentum:
            self.momentum[client] = g.clone()
        else:
            self.momentum[client].mul_(BETA).add_(g, alpha=1 - BETA)
        return self.momentum[client].clone()

    def apply(self, aggregate):
        """The server step with the aggregate (SGD with weight decay)."""
        with torch.no_grad():
            offset = 0
            for p in self.params:
                p -= LR * (aggregate[offset:offset + p.numel()].view_as(p) + WEIGHT_DECAY * p)
                offset += p.numel()
        self.step_count += 1

    def accuracy(self):
        """On the first 2,000 test images."""
        with torch.no_grad():
            return 100 * (self.model(self.xt).argmax(1) == self.yt).float().mean().item()

    def validation_accuracy(self):
        """On the held-out split `rampart train` reports as its validation accuracy."""
        with torch.no_grad():
            return 100 * (self.model(self.xv).argmax(1) == self.yv).float().mean().item()
