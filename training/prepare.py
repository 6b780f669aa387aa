"""Data in: the labelled utterances of data/, the fixed held-out split, and SwDA-style corpora.

Run `python -m training.prepare` to check data/ and print its counts. Everything here is used by
training and evaluation only; nothing is imported at run time.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from softack.context import AgentContext
from softack.decision import Intent
from softack.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
DATA_FILE = DATA_DIR / "utterances.csv"
CONTEXT_FILE = DATA_DIR / "context.csv"
HELDOUT_PERCENT = 20  # share of distinct normalised texts held out, fixed by hash
INTENTS = tuple(i.value for i in Intent)  # the model's classes, BACKCHANNEL first
LINE_KINDS = frozenset(
    "explanation list readback yesno_question choice_question check_question open_question "
    "announced_action bad_news self_answered closing greeting other".split()
)

LABELS = ("ignore", "interrupt")
CATEGORIES = {
    "ignore": {"continuer", "acknowledgement", "assessment", "backchannel_question", "agreement", "filler"},
    "interrupt": {"command", "correction", "question", "answer", "statement", "topic_change", "polite", "mixed"},
}

# SwDA mapping, as the label policy states it.
SWDA_IGNORE = frozenset({"b", "bk", "ba", "bh"})
SWDA_INTERRUPT = frozenset(
    "sd sv qy qw qo qh qy^d qw^d qrr ad br nn ng ar arp_nd no bf ^q oo_co_cc fc fa ft".split()
)


@dataclass(frozen=True)
class Row:
    """One labelled caller utterance; context rows also carry the agent's line (``said``/``unsaid``)."""

    text: str
    label: str  # "ignore" | "interrupt"
    category: str  # utterances: the category; context rows: the agent's line kind
    intent: str = ""  # an Intent value; "" for corpus rows, which have none
    said: str = ""
    unsaid: str = ""
    pair: str = ""  # context rows: the id shared with the row of the same words and the other label
    domain: str = ""

    @property
    def y(self) -> int:
        return int(self.label == "interrupt")

    @property
    def intent_y(self) -> int:
        return INTENTS.index(self.intent)

    @property
    def context(self) -> AgentContext | None:
        return AgentContext(self.said, self.unsaid) if (self.said or self.unsaid) else None

    @property
    def split_key(self) -> str:
        """What decides the split: the normalised words, or for context rows the pair (both sides
        of a pair fall on the same side) or the agent's line with the words."""
        if self.pair:
            return "pair:" + self.pair
        if self.said or self.unsaid:
            return f"ctx:{normalize(self.said)}|{normalize(self.unsaid)}|{normalize(self.text)}"
        return normalize(self.text)


def _check_intent(path: Path, line_no: int, label: str, intent: str) -> None:
    if intent not in INTENTS:
        raise ValueError(f"{path}:{line_no}: intent {intent!r} is not one of {INTENTS}")
    if (label == "ignore") != (intent == Intent.BACKCHANNEL.value):
        raise ValueError(f"{path}:{line_no}: label {label} with intent {intent}: only BACKCHANNEL ignores")


def is_heldout(normalized: str) -> bool:
    """The fixed split: a hash of the normalised text, so variants of one utterance stay together."""
    digest = hashlib.sha1(normalized.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


def load_data(path: Path = DATA_FILE) -> list[Row]:
    """Read and validate data/utterances.csv (text,label,category,intent). Raises ValueError on a bad row."""
    rows: list[Row] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["text", "label", "category", "intent"]:
            raise ValueError(f"{path}: header must be text,label,category,intent, got {reader.fieldnames}")
        for line_no, r in enumerate(reader, start=2):
            text, label, category, intent = r["text"], r["label"], r["category"], r["intent"]
            if label not in LABELS:
                raise ValueError(f"{path}:{line_no}: label {label!r} is not one of {LABELS}")
            if category not in CATEGORIES[label]:
                raise ValueError(f"{path}:{line_no}: category {category!r} is not a {label} category")
            _check_intent(path, line_no, label, intent)
            if not normalize(text):
                raise ValueError(f"{path}:{line_no}: text {text!r} is empty after normalisation")
            rows.append(Row(text, label, category, intent))
    return rows


CONTEXT_HEADER = ["said", "unsaid", "caller", "label", "intent", "domain", "line_kind", "pair"]


def load_context(path: Path = CONTEXT_FILE) -> list[Row]:
    """Read and validate data/context.csv (see data/README.md). Raises ValueError on a bad row.

    A pair id must join exactly two rows with the same normalised caller words and opposite labels.
    """
    rows: list[Row] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != CONTEXT_HEADER:
            raise ValueError(f"{path}: header must be {','.join(CONTEXT_HEADER)}, got {reader.fieldnames}")
        for line_no, r in enumerate(reader, start=2):
            if r["label"] not in LABELS:
                raise ValueError(f"{path}:{line_no}: label {r['label']!r} is not one of {LABELS}")
            if r["line_kind"] not in LINE_KINDS:
                raise ValueError(f"{path}:{line_no}: line_kind {r['line_kind']!r} is not one of {sorted(LINE_KINDS)}")
            _check_intent(path, line_no, r["label"], r["intent"])
            if not normalize(r["caller"]):
                raise ValueError(f"{path}:{line_no}: caller {r['caller']!r} is empty after normalisation")
            rows.append(Row(r["caller"], r["label"], r["line_kind"], r["intent"], r["said"], r["unsaid"],
                            r["pair"], r["domain"]))
    pairs: dict[str, list[Row]] = {}
    for row in rows:
        if row.pair:
            pairs.setdefault(row.pair, []).append(row)
    for pair, members in pairs.items():
        if (len(members) != 2 or normalize(members[0].text) != normalize(members[1].text)
                or members[0].label == members[1].label):
            raise ValueError(f"{path}: pair {pair!r} must be two rows of the same caller words with opposite labels")
    return rows


def load_all() -> list[Row]:
    """Every labelled row of data/: the utterances, then the context rows (when the file exists)."""
    return load_data() + (load_context() if CONTEXT_FILE.is_file() else [])


def split(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """(train, heldout) by ``is_heldout`` of each row's ``split_key``."""
    train, heldout = [], []
    for row in rows:
        (heldout if is_heldout(row.split_key) else train).append(row)
    return train, heldout


def asr_style(text: str) -> str:
    """The label policy's ASR-style text: lowercase, hyphens to spaces, only a-z 0-9 ' kept."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]", "", text)
    return re.sub(r" +", " ", text).strip()


def load_swda(folder: Path, *, asr: bool = False) -> list[Row]:
    """Turn-initial utterances of a SwDA-style corpus (files of ``SPEAKER|text|TAG`` lines), mapped.

    A row is turn-initial when the line before it in the same file is the other speaker's. Tags
    outside the policy's mapping are left out; so is text that normalises to nothing.
    """
    files = sorted(Path(folder).rglob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no SwDA-style .txt files under {folder}")
    rows: list[Row] = []
    for file in files:
        previous, previous_text = None, ""
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("|")
            if len(parts) < 3:
                continue
            speaker, tag, text = parts[0], parts[-1].strip(), "|".join(parts[1:-1])
            turn_initial = previous is not None and previous != speaker
            said = previous_text  # the other speaker's last utterance: the context of a turn-initial one
            previous, previous_text = speaker, text
            if not turn_initial:
                continue
            label = "ignore" if tag in SWDA_IGNORE else "interrupt" if tag in SWDA_INTERRUPT else None
            if label is None:
                continue
            if asr:
                text = asr_style(text)
            if normalize(text):
                rows.append(Row(text, label, f"swda:{tag}", said=said))
    return rows


def main() -> int:
    rows = load_data()
    norms = [normalize(r.text) for r in rows]
    dupes = [n for n, c in Counter(norms).items() if c > 1]
    train, heldout = split(rows)
    print(f"{DATA_FILE.relative_to(ROOT)}: {len(rows)} rows, {len(set(norms))} distinct after normalisation")
    for label in LABELS:
        cats = Counter(r.category for r in rows if r.label == label)
        print(f"  {label:9s} {sum(cats.values()):5d}  " + ", ".join(f"{c} {n}" for c, n in sorted(cats.items())))
    print("  intents: " + ", ".join(f"{i} {n}" for i, n in Counter(r.intent for r in rows).most_common()))
    print(f"  split: train {len(train)}, held-out {len(heldout)}")
    if dupes:
        print(f"  {len(dupes)} texts repeat after normalisation, e.g. {dupes[:5]}", file=sys.stderr)
        return 1
    if CONTEXT_FILE.is_file():
        ctx = load_context()
        c_train, c_held = split(ctx)
        pairs = {r.pair for r in ctx if r.pair}
        print(f"{CONTEXT_FILE.relative_to(ROOT)}: {len(ctx)} rows, {len(pairs)} pairs, "
              f"{len({r.domain for r in ctx})} domains; split: train {len(c_train)}, held-out {len(c_held)}")
        print("  labels: " + ", ".join(f"{k} {n}" for k, n in sorted(Counter(r.label for r in ctx).items())))
        print("  intents: " + ", ".join(f"{i} {n}" for i, n in Counter(r.intent for r in ctx).most_common()))
        print("  domains: " + ", ".join(f"{d} {n}" for d, n in sorted(Counter(r.domain for r in ctx).items())))
        seen: dict[tuple[str, str, str], int] = {}
        for line_no, r in enumerate(ctx, start=2):
            key = (r.said, r.unsaid, normalize(r.text))
            if key in seen:
                print(f"  line {line_no} repeats line {seen[key]} (same agent line and caller words)", file=sys.stderr)
                return 1
            seen[key] = line_no
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
