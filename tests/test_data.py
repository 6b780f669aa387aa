"""data/: provenance and shape. Written for this project: no row may be a corpus utterance."""

from collections import Counter

import pytest

from softack.normalize import normalize
from training.prepare import INTENTS, load_context, load_data

from .conftest import SWDA_VAL

SWDA = SWDA_VAL.parent


def _swda_utterances(min_words: int) -> set[str]:
    out = set()
    for file in SWDA.rglob("*.txt"):
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("|")
            if len(parts) >= 3:
                text = normalize("|".join(parts[1:-1]))
                if len(text.split()) >= min_words:
                    out.add(text)
    return out


def test_no_row_of_four_or_more_words_is_a_swda_utterance():
    if not SWDA.is_dir():
        pytest.fail(f"SwDA not found at {SWDA} (CI has ../shared beside the clone)")
    swda = _swda_utterances(4)
    assert len(swda) > 10_000
    texts = [r.text for r in load_data()] + [r.text for r in load_context()]
    texts += [r.said for r in load_context()] + [r.unsaid for r in load_context()]
    copied = sorted({n for n in map(normalize, texts) if len(n.split()) >= 4 and n in swda})
    assert not copied, f"{len(copied)} rows equal SwDA utterances, e.g. {copied[:5]}"


def test_context_data_covers_domains_pairs_and_every_intent():
    rows = load_context()
    assert len(rows) >= 4000
    assert len({r.domain for r in rows}) >= 8
    pairs = Counter(r.pair for r in rows if r.pair)
    assert len(pairs) >= 800 and set(pairs.values()) == {2}
    assert set(Counter(r.intent for r in rows)) == set(INTENTS)
    # answers and nods to the same words: both labels on the commonest short replies
    labels_of: dict[str, set[str]] = {}
    for r in rows:
        labels_of.setdefault(normalize(r.text), set()).add(r.label)
    for word in ("yes", "okay", "sure", "correct"):
        assert labels_of.get(word) == {"ignore", "interrupt"}, word


def test_every_utterance_row_names_an_intent_and_only_backchannels_ignore():
    rows = load_data()
    assert all(r.intent in INTENTS for r in rows)
    assert all((r.label == "ignore") == (r.intent == "BACKCHANNEL") for r in rows)
