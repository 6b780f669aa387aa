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

from softack.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
DATA_FILE = DATA_DIR / "utterances.csv"
HELDOUT_PERCENT = 20  # share of distinct normalised texts held out, fixed by hash

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
    text: str
    label: str  # "ignore" | "interrupt"
    category: str

    @property
    def y(self) -> int:
        return int(self.label == "interrupt")


def is_heldout(normalized: str) -> bool:
    """The fixed split: a hash of the normalised text, so variants of one utterance stay together."""
    digest = hashlib.sha1(normalized.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


def load_data(path: Path = DATA_FILE) -> list[Row]:
    """Read and validate data/utterances.csv (text,label,category). Raises ValueError on a bad row."""
    rows: list[Row] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["text", "label", "category"]:
            raise ValueError(f"{path}: header must be text,label,category, got {reader.fieldnames}")
        for line_no, r in enumerate(reader, start=2):
            text, label, category = r["text"], r["label"], r["category"]
            if label not in LABELS:
                raise ValueError(f"{path}:{line_no}: label {label!r} is not one of {LABELS}")
            if category not in CATEGORIES[label]:
                raise ValueError(f"{path}:{line_no}: category {category!r} is not a {label} category")
            if not normalize(text):
                raise ValueError(f"{path}:{line_no}: text {text!r} is empty after normalisation")
            rows.append(Row(text, label, category))
    return rows


def split(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """(train, heldout) by ``is_heldout`` of the normalised text."""
    train, heldout = [], []
    for row in rows:
        (heldout if is_heldout(normalize(row.text)) else train).append(row)
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
        previous = None
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("|")
            if len(parts) < 3:
                continue
            speaker, tag, text = parts[0], parts[-1].strip(), "|".join(parts[1:-1])
            turn_initial = previous is not None and previous != speaker
            previous = speaker
            if not turn_initial:
                continue
            label = "ignore" if tag in SWDA_IGNORE else "interrupt" if tag in SWDA_INTERRUPT else None
            if label is None:
                continue
            if asr:
                text = asr_style(text)
            if normalize(text):
                rows.append(Row(text, label, f"swda:{tag}"))
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
    print(f"  split: train {len(train)}, held-out {len(heldout)}")
    if dupes:
        print(f"  {len(dupes)} texts repeat after normalisation, e.g. {dupes[:5]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
