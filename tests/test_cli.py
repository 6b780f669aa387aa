"""The `softack classify` contract: one JSON object per input line, always."""

import json
import subprocess
import sys

from .heldout import heldout


def run(args, data: bytes, env=None):
    return subprocess.run([sys.executable, "-m", "softack", *args], input=data, capture_output=True, timeout=120, env=env)


def test_classify_one_line_per_line_with_the_fields():
    lines = ["okay", "no stop", "", heldout("what's the price of the blue one", "interrupt"), "   ", "uh-huh", "yeah okay but wait"]
    out = run(["classify"], ("\n".join(lines) + "\n").encode())
    assert out.returncode == 0, out.stderr
    records = [json.loads(l) for l in out.stdout.decode().splitlines()]
    assert len(records) == len(lines)
    assert [r["text"] for r in records] == lines
    assert all(set(r) == {"text", "action", "reason", "score"} for r in records)
    actions = [r["action"] for r in records]
    assert actions == ["ignore", "interrupt", "ignore", "interrupt", "ignore", "ignore", "interrupt"]
    assert records[3]["reason"] == "model" and isinstance(records[3]["score"], float)
    assert records[2]["reason"] == "empty"


def test_classify_survives_odd_unicode_and_bad_bytes():
    data = "\n".join(["\U0001f642\U0001f642", "\u05e9\u05dc\u05d5\u05dd", "\u4f60\u597d", "a\u200bb", "ok\u2028ay", "\x00\x07", "caf\u00e9"]).encode()
    data += b"\nyeah \xff\xfe broken\n\xed\xa0\x80\nlast line without newline"
    out = run(["classify"], data)
    assert out.returncode == 0, out.stderr
    records = [json.loads(l) for l in out.stdout.decode("ascii").splitlines()]
    assert len(records) == data.count(b"\n") + 1
    assert records[-1]["text"] == "last line without newline"


def test_classify_empty_input_writes_nothing():
    out = run(["classify"], b"")
    assert out.returncode == 0 and out.stdout == b""


def test_explain_says_why():
    out = run(["explain", "yeah", "okay", "but", "wait"], b"")
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "interrupt" in text and "keyword" in text and "'but'" in text


def test_missing_model_is_a_clear_error(tmp_path):
    out = run(["--model", str(tmp_path / "missing.onnx"), "classify"], b"yeah\n")
    assert out.returncode == 2
    assert str(tmp_path / "missing.onnx") in out.stderr.decode()
