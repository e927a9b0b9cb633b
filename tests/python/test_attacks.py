"""rampart's attacks from Python: parity with a plain PyTorch loop, between the native
ScriptModule path and the callback path, and with the command line's adversarial examples."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

import rampart
from nets import batch, seeded_net


def plain_pgd(model, x, y, eps, steps, step_size):
    """PGD without random start, as torchattacks and Madry et al. write it."""
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(x_adv), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = x_adv.detach() + step_size * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()


def test_pgd_without_random_start_equals_a_plain_pytorch_loop():
    net, (x, y) = seeded_net(), batch()
    ours = rampart.pgd(net, x, y, eps=0.1, steps=7, step_size=0.02, random_start=False,
                       early_stop=False)
    reference = plain_pgd(net, x, y, eps=0.1, steps=7, step_size=0.02)
    assert (ours.adversarial - reference).abs().max().item() <= 1e-6
    assert ours.linf.max().item() <= 0.1 + 1e-6
    with torch.no_grad():
        assert torch.equal(ours.success, net(ours.adversarial).argmax(1) != y)


def test_script_module_and_python_callback_agree():
    net, (x, y) = seeded_net(), batch()
    script = torch.jit.script(net)
    for attack in (lambda m: rampart.pgd(m, x, y, eps=0.08, steps=10, restarts=2, seed=3),
                   lambda m: rampart.fgsm(m, x, y, eps=0.05),
                   lambda m: rampart.pgd(m, x, y, eps=1.0, norm="l2", steps=5)):
        native, callback = attack(script), attack(net)
        assert native.attack_id == callback.attack_id
        assert (native.adversarial - callback.adversarial).abs().max().item() <= 1e-6
        assert torch.equal(native.success, callback.success)
    # The attack left the module as it found it: eval mode, parameters requiring gradients.
    assert not net.training and all(p.requires_grad for p in net.parameters())
    assert all(p.grad is None for p in net.parameters())


def test_a_plain_callable_works_too():
    net, (x, y) = seeded_net(), batch(8)
    result = rampart.fgsm(lambda batch: net(batch), x, y, eps=0.05)
    assert result.linf.max().item() <= 0.05 + 1e-6


def test_pgd_equals_the_command_lines_adversarial_examples_bit_for_bit(tmp_path):
    binary = os.environ.get("RAMPART_BINARY")
    if not binary:
        pytest.skip("RAMPART_BINARY is not set (ctest sets it)")
    torch.set_num_threads(1)
    net, (x, y) = seeded_net(), batch(48)
    script = torch.jit.script(net)
    model_path = tmp_path / "model.pt"
    script.save(str(model_path))
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y.numpy().astype(np.int64))
    config = {
        "seed": 5, "threads": 1,
        "model": {"path": str(model_path), "num_classes": 10,
                  "input": {"shape": [1, 28, 28], "range": [0.0, 1.0]}},
        "data": {"format": "npy", "images": str(tmp_path / "x.npy"),
                 "labels": str(tmp_path / "y.npy"), "batch_size": 48},
        "attacks": [{"name": "pgd", "eps": 0.1, "steps": 10}],
        "report": {"dir": str(tmp_path / "report"), "save_adversarial": True, "formats": ["json"]},
    }
    (tmp_path / "eval.yaml").write_text(json.dumps(config))
    run = subprocess.run([binary, "eval", str(tmp_path / "eval.yaml"), "--allow-unpinned", "-q"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    cli = torch.from_numpy(np.load(tmp_path / "report" / "adv" / "pgd-linf-0.1.npy"))
    ours = rampart.pgd(script, x, y, eps=0.1, steps=10, seed=5)
    assert torch.equal(ours.adversarial, cli)


def test_errors_are_python_exceptions_of_the_right_class(tmp_path):
    net, (x, y) = seeded_net(), batch(4)
    with pytest.raises(rampart.ConfigError, match="eps must be >= 0"):
        rampart.pgd(net, x, y, eps=-0.1)
    with pytest.raises(rampart.ConfigError, match="norm"):
        rampart.pgd(net, x, y, eps=0.1, norm="l7")
    with pytest.raises(rampart.ConfigError, match="steps"):
        rampart.adversarial_loss(net, x, y, eps=0.1, steps=0)
    with pytest.raises(rampart.DataError, match="label"):
        rampart.evaluate(net, x, y + 20, config={"attacks": [{"name": "fgsm", "eps": 0.1}]})
    model = tmp_path / "m.pt"
    torch.jit.script(net).save(str(model))
    with pytest.raises(rampart.ModelRejected, match="SHA-256 is .* but the pin is 0000"):
        rampart.scan(model, sha256="0" * 64)
    assert issubclass(rampart.ConfigError, rampart.Error)
    assert rampart.scan(model, input_shape=[1, 28, 28])["verdict"] == "accepted"


def test_labels_and_targets_are_checked_against_the_model():
    net, (x, y) = seeded_net(), batch(8)
    bad = y.clone()
    bad[0] = 10
    for attack in (rampart.pgd, rampart.square):  # libtorch's "Target 10 is out of bounds"
        with pytest.raises(rampart.DataError, match=r"must lie in \[0, 10\)"):
            attack(net, x, bad, eps=0.1)
    with pytest.raises(rampart.DataError, match="integer tensor"):
        rampart.pgd(net, x, y.float() + 0.7, eps=0.1)  # was truncated silently
    with pytest.raises(rampart.ConfigError, match="target: 50 is not a class"):
        rampart.backdoor(net, x, y, target=50)  # reported 0% success
