"""The setting of configs/fmnist_byzantine.yaml in one Python process, shared by the oracle
simulations next to this file (plain PyTorch, Debian's python3-torch): 10 honest clients + 2
Byzantine, Fashion-MNIST (first 40,000 training images), heterogeneity 0.5 (half IID, half
label-sorted, as ByzFL's gamma_similarity_niid), the 784-32-10 MLP, batch 25, lr 0.1, weight
decay 1e-4 on the server, worker momentum 0.9. Accuracy is on the first 2,000 test images.
Difference from ByzFL's benchmark: batches are drawn without replacement within a step but
independently across steps."""
import gzip

import numpy as np
import torch
import torch.nn.functional as F

HONEST, F_BYZANTINE, GAMMA, BATCH, LR, WEIGHT_DECAY, BETA = 10, 2, 0.5, 25, 0.1, 1e-4, 0.9
DATA = "/usr/share/datasets/fashion-mnist/"


def _idx(path, offset):
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


class Setting:
    """Data, shards, model and the worker-momentum step of one seed."""

    def __init__(self, seed, byzfl_momentum=True):
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        x = _idx(DATA + "train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:40000] / 255.0
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(_idx(DATA + "train-labels-idx1-ubyte.gz", 8)[:40000].astype(np.int64))
        xt = _idx(DATA + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:2000] / 255.0
        self.xt = torch.tensor(xt, dtype=torch.float32)
        self.yt = torch.tensor(_idx(DATA + "t10k-labels-idx1-ubyte.gz", 8)[:2000].astype(np.int64))
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

    def flat(self, grads):
        return torch.cat([g.reshape(-1) for g in grads])

    def batch(self, client):
        b = self.rng.choice(self.shards[client], BATCH, replace=False)
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
        with torch.no_grad():
            return 100 * (self.model(self.xt).argmax(1) == self.yt).float().mean().item()
