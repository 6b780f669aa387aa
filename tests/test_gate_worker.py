"""runtime/worker.py: keys from the environment or .env, and a clear stop when one is missing.

No network: every case here stops before LiveKit's CLI starts.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).resolve().parents[1] / "runtime" / "worker.py"
KEYS = (
    "DEEPGRAM_API_KEY",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "OPENAI_API_KEY",
    "SOFTACK_LLM",
    "SOFTACK_TTS",
    "SOFTACK_TURN_DETECTION",
)


@pytest.fixture(scope="module")
def worker():
    spec = importlib.util.spec_from_file_location("softack_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def run_worker(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in KEYS}
    clean.update(env)
    return subprocess.run(
        [sys.executable, str(WORKER), *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_key_stops_the_worker_and_names_it(tmp_path):
    r = run_worker(tmp_path, "console")
    assert r.returncode == 2
    assert "DEEPGRAM_API_KEY is not set" in r.stderr
    assert "LIVEKIT_API_KEY is not set" in r.stderr  # the default LLM is LiveKit Inference


def test_server_modes_need_the_livekit_server(tmp_path):
    r = run_worker(tmp_path, "dev", DEEPGRAM_API_KEY="dg", LIVEKIT_API_KEY="k", LIVEKIT_API_SECRET="s")
    assert r.returncode == 2
    assert "LIVEKIT_URL is not set" in r.stderr
    assert "DEEPGRAM_API_KEY" not in r.stderr


def test_keys_are_read_from_dotenv(tmp_path):
    (tmp_path / ".env").write_text("DEEPGRAM_API_KEY=dg\nLIVEKIT_API_KEY=k\n")
    r = run_worker(tmp_path, "console")
    assert r.returncode == 2
    assert "DEEPGRAM_API_KEY" not in r.stderr and "LIVEKIT_API_KEY is" not in r.stderr
    assert "LIVEKIT_API_SECRET is not set" in r.stderr


def test_bad_model_setting_is_named(tmp_path):
    r = run_worker(tmp_path, "console", DEEPGRAM_API_KEY="dg", SOFTACK_LLM="gpt-4")
    assert r.returncode == 2 and "SOFTACK_LLM='gpt-4'" in r.stderr


def test_required_keys_follow_the_settings(worker):
    s = worker.Settings.from_env({"SOFTACK_LLM": "openai:gpt-4.1-mini", "SOFTACK_TTS": "deepgram:aura-2-andromeda-en"})
    assert set(worker.required_keys("console", s)) == {"DEEPGRAM_API_KEY", "OPENAI_API_KEY"}
    assert set(worker.required_keys("start", s)) == {
        "DEEPGRAM_API_KEY",
        "OPENAI_API_KEY",
        "LIVEKIT_URL",
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
    }
    default = worker.Settings.from_env({})
    assert default.llm == worker.DEFAULT_LLM and default.turn_detection == "vad"
    assert worker.missing_keys("console", default, {"DEEPGRAM_API_KEY": "x", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}) == {}


def test_command_of(worker):
    assert worker.command_of(["start"]) == "start"
    assert worker.command_of(["dev", "--log-level", "debug"]) == "dev"
    assert worker.command_of(["--help"]) is None


def test_broken_model_stops_the_worker_before_it_starts(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not an onnx model")
    r = run_worker(
        tmp_path, "console", DEEPGRAM_API_KEY="dg", LIVEKIT_API_KEY="k", LIVEKIT_API_SECRET="s", SOFTACK_MODEL=str(bad)
    )
    assert r.returncode == 2
    assert str(bad) in r.stderr and "could not be loaded" in r.stderr


def test_missing_model_stops_the_worker_and_names_the_path(tmp_path):
    gone = tmp_path / "nowhere" / "softack.onnx"
    r = run_worker(
        tmp_path, "console", DEEPGRAM_API_KEY="dg", LIVEKIT_API_KEY="k", LIVEKIT_API_SECRET="s", SOFTACK_MODEL=str(gone)
    )
    assert r.returncode == 2
    assert str(gone) in r.stderr
