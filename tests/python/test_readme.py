"""README's "From Python" section, run as written: its shell block (import from the build tree,
then an offline `pip install` into a venv that sees Debian's python3-torch) and its Python block,
with the names the block leaves to the reader (model, x, y, loader, optimizer, features,
labels, the scanned file's hash) filled in. CI runs this on a fresh clone of a clean machine."""
import hashlib
import os
import re
import subprocess
import sys

import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("RAMPART_BUILD_DIR", os.path.join(ROOT, "build"))


def python_section() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## From Python\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def block(language: str) -> str:
    found = re.search(r"```" + language + r"\n(.*?)```", python_section(), re.S)
    assert found, f"README.md, 'From Python': no ```{language} block"
    return found.group(1)


def project_version() -> str:
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        return re.search(r"project\(Rampart VERSION ([0-9.]+)", f.read()).group(1)


def test_the_shell_block_imports_from_the_build_tree_and_installs_offline(tmp_path):
    venv = str(tmp_path / "venv")
    env = dict(os.environ, RAMPART_BUILD_DIR=BUILD, PIP_NO_CACHE_DIR="1")
    env.pop("PYTHONPATH", None)  # only what the commands themselves set
    commands = [line for line in block("sh").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 3, commands
    for command in commands:
        # The README is run from the repository root; the build may live elsewhere (ctest's
        # binary dir) and the venv goes to a temporary directory instead of .venv.
        command = command.replace("PYTHONPATH=build/python",
                                  "PYTHONPATH=" + os.path.join(BUILD, "python"))
        command = re.sub(r"(?<![\w/])\.venv\b", venv, command)
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if "rampart.__version__" in command:
            assert done.stdout.strip() == project_version()
    # The installed package, not the source tree: run from elsewhere, with no PYTHONPATH.
    probe = ("import rampart, torch; print(rampart.__version__); print(rampart.__file__); "
             "r = rampart.fgsm(torch.nn.Flatten(), torch.rand(2, 1, 2, 2), "
             "torch.tensor([0, 1]), eps=0.1); print(tuple(r.adversarial.shape))")
    done = subprocess.run([os.path.join(venv, "bin", "python"), "-c", probe], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    version, location, shape = done.stdout.split("\n")[:3]
    assert version == project_version()
    assert location.startswith(venv), location
    assert shape == "(2, 1, 2, 2)"


class Brightness(torch.nn.Module):
    """Four classes by mean brightness (0.05, 0.35, 0.65, 0.95): robust at Linf 0.1, fooled
    at 0.5, with a learnable sharpness so that an optimizer has something to train."""

    def __init__(self) -> None:
        super().__init__()
        self.sharpness = torch.nn.Parameter(torch.tensor(40.0))
        self.register_buffer("centres", torch.tensor([0.05, 0.35, 0.65, 0.95]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3)).unsqueeze(1)
        return -self.sharpness * (m - self.centres) ** 2


def test_the_python_block_runs_as_written(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = Brightness()
    y = torch.arange(4).repeat(8)
    x = (model.centres[y].view(-1, 1, 1, 1) + 0.02 * torch.randn(len(y), 1, 28, 28)).clamp(0, 1)
    loader = [(x[:16], y[:16]), (x[16:], y[16:])]
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    torch.jit.script(model).save(str(tmp_path / "model.pt"))
    with open(tmp_path / "model.pt", "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    features = torch.randn(400, 16)
    labels = torch.arange(4).repeat(100)
    code = block("python")
    assert code.count('sha256="..."') == 1
    code = code.replace('sha256="..."', f'sha256="{digest}"')
    monkeypatch.chdir(tmp_path)  # reports/py and model.pt are relative
    scope = {"model": model, "x": x, "y": y, "loader": loader, "optimizer": optimizer,
             "features": features, "labels": labels}
    exec(compile(code, "README.md (From Python)", "exec"), scope)
    assert scope["report"]["exit_code"] == 0
    assert scope["report"]["attacks"][0]["robust_accuracy"] == 1.0
    assert os.path.exists(tmp_path / "reports" / "py" / "report.json")
    assert scope["result"].adversarial.shape == x.shape
    assert scope["result"].linf.max() <= 0.1 + 1e-6
    assert torch.isfinite(scope["loss"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
