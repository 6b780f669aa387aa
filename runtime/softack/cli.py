"""The ``softack`` command line.

``softack classify`` reads one utterance per line on stdin and writes one JSON object per line,
``{"text", "action", "reason", "score"}``, judged as if the agent were speaking; ``action`` is
``ignore`` or ``interrupt``. This contract is how the classifier is measured from outside: keep it.
``softack explain TEXT`` prints the decision and why, for a person.
"""

from __future__ import annotations

import argparse
import io
import json
import sys

from .decision import Action, BackchannelFilter, Decision
from .onnx_model import ModelLoadError


def _external_action(decision: Decision) -> str:
    # Only two answers leave the classify contract: no text is nothing to stop for.
    return "interrupt" if decision.action is Action.INTERRUPT else "ignore"


def _classify(filt: BackchannelFilter, stdin: io.TextIOBase, stdout: io.TextIOBase) -> int:
    for line in stdin:
        text = line.rstrip("\r\n")
        decision = filt.decide(text, "speaking", final=True)
        record = {
            "text": text,
            "action": _external_action(decision),
            "reason": decision.reason.value,
            "score": None if decision.score is None else round(decision.score, 6),
        }
        # ensure_ascii keeps lone surrogates from undecodable input printable.
        stdout.write(json.dumps(record, ensure_ascii=True) + "\n")
        stdout.flush()
    return 0


def _explain(filt: BackchannelFilter, text: str, agent_state: str) -> str:
    d = filt.decide(text, agent_state, final=True)
    lines = [
        f"text:        {text!r}",
        f"normalised:  {d.text!r}",
        f"agent state: {agent_state}",
        f"action:      {d.action.value}",
        f"reason:      {d.reason.value}" + (f" ({d.keyword!r})" if d.keyword else ""),
    ]
    if d.score is not None:
        lines.append(f"score:       {d.score:.4f} (interrupt at >= {filt.threshold:.4f})")
    why = {
        "soft_ack": "every word is on the soft-ack list, so the agent keeps talking",
        "keyword": "an interrupt keyword always takes the floor",
        "model": "the classifier decided: score against the threshold",
        "agent_silent": "the agent is not speaking or thinking: a normal user turn",
        "empty": "no words to judge yet",
        "partial": "the words so far only begin a soft-ack phrase: the next interim decides",
        "unrecognised": "words the model cannot read: yield rather than drop them",
        "fallback": "the model is unavailable: yield rather than drop the user's words",
    }[d.reason.value]
    lines.append(f"why:         {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="softack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="path to the .onnx model (default: SOFTACK_MODEL, packaged, model/)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("classify", help="one utterance per stdin line -> one JSON line per utterance")
    ex = sub.add_parser("explain", help="show the decision for TEXT and why")
    ex.add_argument("text", nargs="+")
    ex.add_argument("--agent-state", default="speaking", help="speaking|thinking|listening (default speaking)")
    args = parser.parse_args(argv)

    from .onnx_model import OnnxClassifier

    try:
        filt = BackchannelFilter(classifier=OnnxClassifier(args.model))
    except ModelLoadError as e:
        print(f"softack: {e}", file=sys.stderr)
        return 2
    if args.command == "classify":
        # Invalid UTF-8 must not end the stream: keep every line, one answer per line.
        stdin = io.TextIOWrapper(
            sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline="\n"
        )
        return _classify(filt, stdin, sys.stdout)
    print(_explain(filt, " ".join(args.text), args.agent_state))
    return 0
