"""pytest plugin: robustness gates as tests.

Enable it with ``pytest -p rampart.pytest_plugin`` (or ``pytest_plugins =
["rampart.pytest_plugin"]`` in conftest.py), then:

    def test_model_is_robust(robustness_gate):
        robustness_gate(model, x, y, eps=0.1, min_robust_accuracy=0.7)

The fixture runs ``rampart.assert_robust`` with the report written under pytest's tmp_path;
a failure reads like a failed assertion with the report's summary and the report's path.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

from .evaluation import assert_robust


@pytest.fixture
def robustness_gate(tmp_path: Any) -> Callable[..., dict]:
    counter = {"n": 0}

    def gate(model: Any, x: Any, y: Any, **kwargs: Any) -> dict:
        counter["n"] += 1
        kwargs.setdefault("out", tmp_path / f"rampart-report-{counter['n']}")
        return assert_robust(model, x, y, **kwargs)

    return gate
