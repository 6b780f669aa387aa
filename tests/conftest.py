"""Shared fixtures. The shipped model is loaded once per test session: loading is not what most tests measure."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SWDA_VAL = ROOT.parent / "shared" / "corpora" / "swda" / "val"


@pytest.fixture(scope="session")
def classifier():
    from softack import OnnxClassifier

    return OnnxClassifier()


@pytest.fixture
def make_filter(classifier):
    """A BackchannelFilter with default lists (environment ignored) and the shipped model."""
    from softack import BackchannelFilter, SoftAckConfig

    def make(config: SoftAckConfig | None = None):
        return BackchannelFilter(config or SoftAckConfig(), classifier)

    return make


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No softack variables in the environment and a working directory without a .env above it."""
    for name in ("LIVEKIT_SOFT_ACKS", "LIVEKIT_INTERRUPT_KEYWORDS", "SOFTACK_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
async def loop_lag():
    """How long the event loop's thread waited for the CPU during the test (``tests/looplag.py``):
    the gate tests' latency bounds excuse that much, and no more.

    The heap that earlier tests in this process left behind is collected and frozen first: a full
    collection of it took 109 ms right after the gate's ``session.interrupt()`` and before the
    framework stopped the audio, and failed a 50 ms bound (that pause is the test process's, not
    the gate's; the gate's own allocations are still collected during the test)."""
    from . import looplag

    gc.collect()
    gc.freeze()
    try:
        async for lag in looplag.watch():
            yield lag
    finally:
        gc.unfreeze()
