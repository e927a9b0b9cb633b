"""adversarial_training_step in a plain PyTorch loop, evaluate's reports and gates, the pytest
fixture, and audit_features."""
import json
import os

import pytest
import torch

import rampart
from nets import SmallNet, batch, seeded_net


def test_adversarial_training_step_lowers_the_adversarial_loss():
    torch.manual_seed(0)
    # Two classes told apart by the mean brightness of the image.
    x = torch.rand(128, 1, 28, 28) * 0.5
    y = (torch.arange(128) % 2).long()
    x[y == 1] += 0.5
    net = SmallNet()
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    first = rampart.adversarial_loss(net, x, y, eps=0.05, steps=3)[0].item()
    for step in range(60):
        stats = rampart.adversarial_training_step(net, optimizer, x, y, method="pgd_at", eps=0.05,
                                                  steps=3, seed=step)
    last = rampart.adversarial_loss(net, x, y, eps=0.05, steps=3)[0].item()
    assert last < 0.5 * first
    assert stats["accuracy"] > 0.9
    assert net.training  # the crafting left the module in its own mode
    for method in ("fgsm_rs", "trades"):
        loss, logits = rampart.adversarial_loss(net, x, y, method=method, eps=0.05)
        assert loss.requires_grad and logits.shape == (128, 10)


def test_evaluate_writes_the_reports_and_applies_the_gates(tmp_path):
    net, (x, y) = seeded_net(), batch(16)
    config = {"attacks": [{"name": "pgd", "eps": 0.1, "steps": 5}],
              "gates": {"clean_accuracy": {"min": 0.9}}}
    report = rampart.evaluate(net, x, y, config=config, out=tmp_path / "r")
    assert report["clean"]["accuracy"] == 1.0  # y is the model's own prediction
    assert report["exit_code"] == 0
    on_disk = json.loads((tmp_path / "r" / "report.json").read_text())
    assert on_disk["attacks"][0]["robust_accuracy"] == report["attacks"][0]["robust_accuracy"]
    for name in ("report.md", "junit.xml", "report.html"):
        assert (tmp_path / "r" / name).stat().st_size > 100
    loader = [(x[:8], y[:8]), (x[8:], y[8:])]
    assert rampart.evaluate(net, loader=loader, config=config)["data"]["points"] == 16


def test_assert_robust_fails_like_an_assertion_with_the_summary():
    net, (x, y) = seeded_net(), batch(16)
    with pytest.raises(AssertionError, match=r"robust accuracy .* >= 0.99 FAIL"):
        rampart.assert_robust(net, x, y, eps=0.2, min_robust_accuracy=0.99)
    report = rampart.assert_robust(net, x, y, eps=0.0, min_robust_accuracy=0.99)
    assert report["exit_code"] == 0


def test_the_pytest_fixture_gates(robustness_gate):
    net, (x, y) = seeded_net(), batch(8)
    robustness_gate(net, x, y, eps=0.0, min_robust_accuracy=0.5)
    with pytest.raises(rampart.RobustnessError):
        robustness_gate(net, x, y, eps=0.3, min_robust_accuracy=0.99)


def test_audit_features_flags_a_planted_cluster():
    torch.manual_seed(0)
    labels = torch.arange(10).repeat_interleave(400)
    centres = torch.randn(10, 24) * 6
    features = centres[labels] + torch.randn(4000, 24)
    poisoned = torch.randperm(3600)[:200] + 400  # points of classes 1..9 ...
    trigger = torch.zeros(24)
    trigger[0] = 25.0
    features[poisoned] = 0.5 * features[poisoned] + trigger  # ... with a trigger, relabelled 0
    labels = labels.clone()
    labels[poisoned] = 0
    audit = rampart.audit_features(features, labels)
    flagged = set(audit["flagged"])
    assert audit["detectors"][0]["poisoned_classes"] == [0]
    assert len(flagged & set(poisoned.tolist())) >= 198 and len(flagged) <= 210
    assert audit["detectors"][0]["classes"][0]["side_rule"] == "feature_spread"
    # With the images (each class its own prototype; the poisons keep their source's), the side
    # is chosen by the labels of its points' nearest other-class images: the same points.
    images = (torch.rand(10, 1, 8, 8)[torch.arange(10).repeat_interleave(400)] +
              0.1 * torch.randn(4000, 1, 8, 8))
    with_images = rampart.audit_features(features, labels, images=images)
    verdict = with_images["detectors"][0]["classes"][0]
    assert verdict["side_rule"] == "source_entropy"
    assert verdict["suspect_source_entropy"] > verdict["other_source_entropy"] + 1.0
    assert set(with_images["flagged"]) == flagged


def test_audit_features_names_the_point_whose_features_are_not_finite():
    labels = torch.arange(3).repeat_interleave(100)
    features = torch.randn(300, 8)
    features[57, 3] = float("nan")
    with pytest.raises(rampart.DataError, match=r"the features of point 57 are not finite \(nan\)"):
        rampart.audit_features(features, labels, detectors=["knn_labels"])
    with pytest.raises(ValueError, match="point 4 has label 5, outside the 3 classes"):
        rampart.audit_features(torch.randn(300, 8), torch.where(torch.arange(300) == 4, 5, labels),
                               num_classes=3)


def test_aggregator_rules_on_a_small_case():
    updates = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [100.0, -100.0]])
    assert torch.allclose(rampart.Aggregator("median")(updates), torch.tensor([3.0, 20.0]))
    # trimmed mean with f=1: drop the largest and smallest per coordinate, average the rest
    assert torch.allclose(rampart.Aggregator("trimmed_mean", f=1)(updates),
                          torch.tensor([3.0, 20.0]))
    assert torch.allclose(rampart.Aggregator("mean")(updates), updates.mean(0))
    # MDA and Meamed with f=1 both leave out the outlier: the mean of the first four rows
    assert torch.allclose(rampart.Aggregator("mda", f=1)(updates), torch.tensor([2.5, 25.0]))
    assert torch.allclose(rampart.Aggregator("meamed", f=1)(updates), torch.tensor([2.5, 25.0]))
    # CAF down-weights the outlier to zero and the inliers unevenly (the d-space definition,
    # computed in float64, gives these)
    assert torch.allclose(rampart.Aggregator("caf", f=1)(updates), torch.tensor([2.4491, 24.4907]),
                          atol=1e-3)
    with pytest.raises(rampart.ConfigError, match="n >= 5"):
        rampart.Aggregator("trimmed_mean", f=2)(updates[:3])
    with pytest.raises(rampart.ConfigError):
        rampart.Aggregator("magic")


def test_relabel_flagged_keeps_no_point_under_its_flagged_label():
    flagged = torch.tensor([40, 7, 23, 12])
    labels = torch.full((4,), 3)
    logits = torch.tensor([[5.0, 0.0, 0.0, 0.0],    # class 0
                           [0.0, 0.0, 0.0, 4.0],    # its own label: left out
                           [0.0, 1.0, 0.9, 0.0],    # class 1, unsure
                           [0.0, 0.0, 6.0, 0.0]])   # class 2
    plan = rampart.relabel_flagged(flagged, labels, logits)
    assert plan["indices"].tolist() == [12, 23, 40]
    assert plan["to"].tolist() == [2, 1, 0]
    assert plan["from"].tolist() == [3, 3, 3]
    assert plan["left_out"].tolist() == [7]
    assert plan["confidence"][2].item() == pytest.approx(torch.softmax(logits[0], 0)[0].item())
    sure = rampart.relabel_flagged(flagged, labels, logits, min_confidence=0.5)
    assert sure["indices"].tolist() == [12, 40] and sure["left_out"].tolist() == [7, 23]
    with pytest.raises(ValueError):
        rampart.relabel_flagged(flagged, labels, logits[:3])
    with pytest.raises(ValueError):  # outside [0, 1]
        rampart.relabel_flagged(flagged, labels, logits, min_confidence=1.5)
    with pytest.raises(ValueError):  # a point named twice (the command reads each once)
        rampart.relabel_flagged(torch.tensor([40, 7, 23, 7]), labels, logits)
    none = rampart.relabel_flagged(torch.tensor([], dtype=torch.long), labels[:0],
                                   torch.empty(0, 0))
    assert none["indices"].numel() == 0 and none["left_out"].numel() == 0


_FAULTS_OF_LATER_ATTACKS = """
import resource, torch, rampart
torch.manual_seed(0)
torch.set_num_threads(1)
# 32 channels at batch 512: the first activation is 51 MiB, above glibc's 32 MiB mmap ceiling.
net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(),
                          torch.nn.MaxPool2d(4), torch.nn.Flatten(),
                          torch.nn.Linear(32 * 7 * 7, 10)).eval()
x = torch.rand(512, 1, 28, 28)
y = net(x).argmax(1)
rampart.pgd(net, x, y, 0.05, steps=3)
for run in range(3):  # the heap may still grow on the second run (fragmentation), not after
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    rampart.pgd(net, x, y, 0.05, steps=3)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_import_keeps_tensor_sized_blocks_for_reuse():
    """`import rampart` tunes the interpreter's malloc (core/heap_tuning.h): an attack run again
    faults few pages; with RAMPART_HEAP_TUNING=0, every step maps its blocks anew. Measured:
    0 or 1 fault on the fourth runs tuned, 148,000 untuned."""
    import subprocess
    import sys

    def fewest_faults_of_a_later_run(**env):
        out = subprocess.run([sys.executable, "-c", _FAULTS_OF_LATER_ATTACKS], check=True,
                             capture_output=True, text=True, env={**os.environ, **env})
        return min(int(n) for n in out.stdout.split())

    tuned = fewest_faults_of_a_later_run()
    untuned = fewest_faults_of_a_later_run(RAMPART_HEAP_TUNING="0")
    assert tuned < 5_000, (tuned, untuned)
    assert untuned > 50_000, (tuned, untuned)


def test_each_training_step_draws_fresh_random_starts():
    # seed defaulted to 0: point i of every batch got the same start, every step and epoch.
    net, (x, y) = seeded_net(), batch(16)
    first = rampart.adversarial_loss(net, x, y, eps=0.1, steps=1)[0].item()
    second = rampart.adversarial_loss(net, x, y, eps=0.1, steps=1)[0].item()
    assert first != second
    fixed = [rampart.adversarial_loss(net, x, y, eps=0.1, steps=1, seed=5)[0].item() for _ in range(2)]
    assert fixed[0] == fixed[1]


def test_evaluate_leaves_the_callers_generator_and_submodule_modes():
    net, (x, y) = seeded_net(), batch(8)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    rampart.evaluate(net, x, y, config={"attacks": [{"name": "pgd", "eps": 0.05, "steps": 2}]})
    assert torch.equal(torch.random.get_rng_state(), state)  # evaluate re-seeded it
    wrapped = torch.nn.Sequential(net, torch.nn.BatchNorm1d(10))
    wrapped.train()
    wrapped[1].eval()  # a frozen BatchNorm in a model training otherwise
    rampart.evaluate(wrapped, x, y, config={"attacks": [{"name": "fgsm", "eps": 0.05}]})
    assert wrapped.training and not wrapped[1].training  # model.train() unfroze it
    with pytest.raises(rampart.ConfigError, match="threads: is the caller's here"):
        rampart.evaluate(net, x, y, config={"threads": 2, "attacks": [{"name": "fgsm", "eps": 0.1}]})


def test_aggregator_refuses_a_non_finite_update():
    updates = torch.randn(7, 4)
    updates[3, 1] = float("nan")
    for rule in ("median", "trimmed_mean", "krum", "geometric_median"):
        with pytest.raises(rampart.DataError, match="update 3 holds a non-finite value"):
            rampart.Aggregator(rule, f=1 if rule in ("trimmed_mean", "krum") else 0)(updates)


def test_adversarial_loss_refuses_bad_labels_and_inputs_outside_the_box():
    # A label of 10 raised libtorch's "Target 10 is out of bounds" (a device-side assert on
    # CUDA), a float label was truncated, and TRADES clamped inputs outside the box silently.
    net, (x, y) = seeded_net(), batch(8)
    with pytest.raises(rampart.DataError, match=r"every label must lie in \[0, 10\)"):
        rampart.adversarial_loss(net, x, torch.full_like(y, 10), eps=0.1, steps=1)
    with pytest.raises(rampart.DataError, match="expected an integer tensor"):
        rampart.adversarial_loss(net, x, y.float() + 0.5, eps=0.1, steps=1)
    with pytest.raises(rampart.ConfigError, match="outside the declared box"):
        rampart.adversarial_loss(net, x * 4 - 2, y, method="trades", eps=0.1, steps=1)
    loss, logits = rampart.adversarial_loss(net, x, y, method="trades", eps=0.1, steps=1)
    assert torch.isfinite(loss) and logits.shape == (8, 10)


def test_the_class_count_probe_runs_once_per_model_and_input_shape():
    # adversarial_loss probed the model's class count with a forward pass (every submodule's
    # mode switched and back) on every batch of a training loop.
    class Counting(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net, self.probes = net, 0

        def forward(self, x):
            self.probes += int(x.shape[0] == 1)
            return self.net(x)

    model = Counting(seeded_net())
    x, y = batch(8)
    for _ in range(3):
        rampart.adversarial_loss(model, x, y, eps=0.1, steps=1, seed=0)
    assert model.probes == 1
    with pytest.raises(rampart.DataError, match=r"every label must lie in \[0, 10\).*, got \d+ to 10"):
        rampart.adversarial_loss(model, x, torch.cat([y[:-1], torch.tensor([10])]), eps=0.1, steps=1)
    assert model.probes == 1  # the cached count still checks the labels
    assert rampart._model_info.num_classes(model, x[:2]) == 10 and model.probes == 1  # same shape
    model.double()
    assert rampart._model_info.num_classes(model, x.double()) == 10
    assert model.probes == 2  # another dtype is probed again


def test_evaluate_reads_uint8_pixels_as_the_cli_does():
    # The class-count probe called the model on the raw uint8 batch (a dtype error) before the
    # native side scaled the pixels.
    net, (x, y) = seeded_net(), batch(8)
    pixels = (x * 255).round().to(torch.uint8)
    config = {"attacks": [{"name": "fgsm", "eps": 0.05}]}
    as_pixels = rampart.evaluate(net, pixels, y, config=config)
    as_floats = rampart.evaluate(net, pixels.float() / 255, y, config=config)
    assert as_pixels["clean"] == as_floats["clean"]
    assert as_pixels["attacks"][0]["robust_accuracy"] == as_floats["attacks"][0]["robust_accuracy"]


def test_a_model_and_inputs_on_different_devices_get_one_clear_error():
    x, y = batch(4)
    meta = torch.nn.Linear(2, 2, device="meta")  # another device than x's, on a CPU-only machine
    with pytest.raises(rampart.ConfigError, match="x is on cpu, the model's parameters on meta"):
        rampart.adversarial_loss(meta, x, y, eps=0.1, steps=1)
    with pytest.raises(rampart.ConfigError, match="x is on cpu, the model's parameters on meta"):
        rampart.pgd(meta, x, y, eps=0.1)
