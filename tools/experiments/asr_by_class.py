# The attack success rate of a tools/poisoning_run.sh run split by the triggered image's true class,
# and (with ROW,COL) the mean pixel under the patch before stamping for flipped and unflipped points
# (docs/poisoning.md, "Where the 1% attack falls short"). Reads the safetensors file with numpy.
#   /usr/bin/python3 tools/experiments/asr_by_class.py RUN [CHECKPOINT] [ROW,COL]
import json, struct, sys, numpy as np, torch, gzip
run = sys.argv[1]; ck = sys.argv[2] if len(sys.argv) > 2 else run + '/model/checkpoint.safetensors'
b = open(ck, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); base = 8 + n
W = {}
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']; W[k] = torch.from_numpy(np.frombuffer(b[base+s:base+e], dtype=np.float32).reshape(v['shape']).copy())
def f(x):
    x = torch.max_pool2d(torch.relu(torch.conv2d(x, W['conv1.weight'], W['conv1.bias'], 1, 1)), 2)
    x = torch.max_pool2d(torch.relu(torch.conv2d(x, W['conv2.weight'], W['conv2.bias'], 1, 1)), 2)
    x = torch.relu(torch.nn.functional.linear(x.flatten(1), W['fc1.weight'], W['fc1.bias']))
    return torch.nn.functional.linear(x, W['fc2.weight'], W['fc2.bias'])
d = run + '/test_triggered/'
idx = np.load(d + 'poisoned.npy'); X = np.load(d + 'images.npy')[idx]; T = np.load(d + 'labels.npy')[idx]
with gzip.open('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz') as g: src = np.frombuffer(g.read()[8:], dtype=np.uint8)[idx]
x = torch.from_numpy(X.astype(np.float32)); x = x.reshape(len(x), 1, 28, 28)
if x.max() > 1.5: x = x / 255
with torch.no_grad(): p = torch.cat([f(x[i:i+1000]).argmax(1) for i in range(0, len(x), 1000)]).numpy()
ok = p == T
print('ASR %.4f' % ok.mean())
for c in range(10):
    m = src == c
    if m.any(): print(c, m.sum(), '%.4f' % ok[m].mean(), 'fail->', np.bincount(p[m & ~ok], minlength=10).tolist())
if len(sys.argv) > 3:
    r, c = map(int, sys.argv[3].split(','))
    with gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz') as g: X0 = np.frombuffer(g.read()[16:], dtype=np.uint8).reshape(-1, 28, 28)[idx]
    under = X0[:, r:r+3, c:c+3].reshape(len(X0), -1).mean(1) / 255
    for name, m in (('flipped', ok), ('not flipped', ~ok)):
        print(name, m.sum(), 'mean pixel under the patch before stamping %.3f' % under[m].mean(), 'share with >0.3: %.3f' % (under[m] > 0.3).mean())
