"""Installs the `rampart` Python package: the pure-Python modules of python/rampart and the
_rampart extension, which the project's CMake builds (target rampart_python) in build/ (or
$RAMPART_BUILD_DIR). Offline: `pip install --no-build-isolation .` with Debian's packages."""
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def version() -> str:
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        return re.search(r"project\(Rampart VERSION ([0-9.]+)", f.read()).group(1)


class BuildWithCMake(build_ext):
    def build_extension(self, ext: Extension) -> None:
        build = os.environ.get("RAMPART_BUILD_DIR", os.path.join(ROOT, "build"))
        if not glob.glob(os.path.join(build, "CMakeCache.txt")):
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build, *generator,
                                   "-DCMAKE_BUILD_TYPE=Release", "-DRAMPART_WITH_PYTHON=ON",
                                   f"-DPython3_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", build, "--target", "rampart_python",
                               "-j", str(os.cpu_count() or 2)])
        built = glob.glob(os.path.join(build, "python", "rampart", "_rampart*.so"))
        if not built:
            raise RuntimeError(f"{build}: the build made no _rampart extension")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    name="rampart",
    version=version(),
    description="Adversarial robustness for PyTorch models: native attacks, robustness reports "
                "and CI gates, adversarial training, safe model intake, poisoning audits",
    packages=["rampart"],
    package_dir={"rampart": "python/rampart"},
    package_data={"rampart": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("rampart._rampart", sources=[])],
    cmdclass={"build_ext": BuildWithCMake},
    entry_points={"pytest11": ["rampart = rampart.pytest_plugin"]},
    python_requires=">=3.9",
)
