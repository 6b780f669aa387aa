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
    assert all(set(r) == {"text", "action", "reason", "score", "intent"} for r in records)
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


def test_classify_jsonl_reads_the_agent_line_and_answers_every_line():
    question = {"caller": "yes", "said": "I found a 7 pm flight. Shall I book it?", "unsaid": "I can also look at later ones."}
    statement = {"caller": "yes", "said": "The refund goes back to your card within five days, and", "unsaid": "you'll get an email."}
    lines = [json.dumps(question), json.dumps(statement), "not json", "[1, 2]", '{"said": "x"}', '{"caller": 5}',
             json.dumps({"caller": "hold on"})]
    out = run(["classify", "--jsonl"], ("\n".join(lines) + "\n").encode())
    assert out.returncode == 0, out.stderr
    records = [json.loads(l) for l in out.stdout.decode().splitlines()]
    assert len(records) == len(lines)
    answer, nod = records[0], records[1]
    assert (answer["action"], answer["intent"], answer["cue"]) == ("interrupt", "ANSWER", "question")
    assert (nod["action"], nod["intent"]) == ("ignore", "BACKCHANNEL")
    assert {"action", "intent", "score", "reason"} <= set(answer)
    assert [r.get("line") for r in records[2:6]] == [3, 4, 5, 6] and all("error" in r for r in records[2:6])
    assert records[6]["intent"] == "HOLD_REQUEST" and records[6]["cue"] == "none"


def test_explain_takes_the_agent_line():
    out = run(["explain", "yes", "--said", "Would you like me to email it to you?", "--unsaid", "It takes a minute."], b"")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "context cue: question" in text and "ANSWER" in text and "interrupt" in text
