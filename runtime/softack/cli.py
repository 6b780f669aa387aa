"""The ``softack`` command line.

``softack classify`` reads one utterance per line on stdin and writes one JSON object per line,
``{"text", "action", "reason", "score", "intent"}``, judged as if the agent were speaking; ``action``
is ``ignore`` or ``interrupt``. This contract is how the classifier is measured from outside: keep it.

``softack classify --jsonl`` reads one JSON object per line, ``{"caller": ..., "said": ...,
"unsaid": ...}`` (``said``/``unsaid``: the agent's line heard / not yet heard when the caller began
to speak; both optional), and writes ``{"caller", "said", "unsaid", "action", "intent", "score",
"reason", "cue"}`` per line. A line that is not such an object gets ``{"line", "error"}`` on its
line; the stream goes on.

``softack explain TEXT [--said S] [--unsaid U]`` prints the decision and why, for a person.
"""

from __future__ import annotations

import argparse
import io
import json
import sys

from .context import AgentContext
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
            "intent": decision.intent.value,
        }
        # ensure_ascii keeps lone surrogates from undecodable input printable.
        stdout.write(json.dumps(record, ensure_ascii=True) + "\n")
        stdout.flush()
    return 0


def _jsonl_record(filt: BackchannelFilter, line: str, line_no: int) -> dict[str, object]:
    try:
        obj = json.loads(line)
    except ValueError as e:
        return {"line": line_no, "error": f"not JSON: {e}"}
    if not isinstance(obj, dict):
        return {"line": line_no, "error": "expected a JSON object with \"caller\""}
    fields = {k: obj.get(k, "") for k in ("caller", "said", "unsaid")}
    if "caller" not in obj:
        return {"line": line_no, "error": "missing \"caller\""}
    wrong = [k for k, v in fields.items() if not isinstance(v, str)]
    if wrong:
        return {"line": line_no, "error": f"{', '.join(wrong)} must be a string"}
    context = AgentContext(fields["said"], fields["unsaid"])  # type: ignore[arg-type]
    d = filt.decide(fields["caller"], "speaking", final=True, context=context)  # type: ignore[arg-type]
    return {
        **fields,
        "action": _external_action(d),
        "intent": d.intent.value,
        "score": None if d.score is None else round(d.score, 6),
        "reason": d.reason.value,
        "cue": context.cue,
    }


def _classify_jsonl(filt: BackchannelFilter, stdin: io.TextIOBase, stdout: io.TextIOBase) -> int:
    for line_no, line in enumerate(stdin, start=1):
        record = _jsonl_record(filt, line.rstrip("\r\n"), line_no)
        stdout.write(json.dumps(record, ensure_ascii=True) + "\n")
        stdout.flush()
    return 0


def _explain(filt: BackchannelFilter, text: str, agent_state: str, said: str = "", unsaid: str = "") -> str:
    context = AgentContext(said, unsaid) if (said or unsaid) else None
    d = filt.decide(text, agent_state, final=True, context=context)
    lines = [
        f"text:        {text!r}",
        f"normalised:  {d.text!r}",
        f"agent state: {agent_state}",
    ]
    if context is not None:
        lines += [f"agent said:  {said!r}", f"still to say: {unsaid!r}", f"context cue: {context.cue}"]
    lines += [
        f"action:      {d.action.value}",
        f"intent:      {d.intent.value}",
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
    cl = sub.add_parser("classify", help="one utterance per stdin line -> one JSON line per utterance")
    cl.add_argument("--jsonl", action="store_true",
                    help='read JSON objects {"caller", "said", "unsaid"} instead of plain lines')
    ex = sub.add_parser("explain", help="show the decision for TEXT and why")
    ex.add_argument("text", nargs="+")
    ex.add_argument("--said", default="", help="the agent's line the caller had heard when they began to speak")
    ex.add_argument("--unsaid", default="", help="the rest of the agent's line, not yet played")
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
        return (_classify_jsonl if args.jsonl else _classify)(filt, stdin, sys.stdout)
    print(_explain(filt, " ".join(args.text), args.agent_state, args.said, args.unsaid))
    return 0
