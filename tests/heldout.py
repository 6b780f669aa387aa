"""Model examples in tests are held-out rows of data/: the model never saw them in training.

A test that expects the model to get a training row right measures memorisation; one that
expects it on a held-out row measures what the model card claims. ``heldout(text, label)``
asserts that ``text`` is a held-out row of ``data/utterances.csv`` (``training.prepare.is_heldout``
of its normalised text) with that label, and returns the text.
"""

from __future__ import annotations

import functools

from softack.normalize import normalize


@functools.cache
def _labels() -> dict[str, set[str]]:
    from training.prepare import load_data

    labels: dict[str, set[str]] = {}
    for row in load_data():
        labels.setdefault(normalize(row.text), set()).add(row.label)
    return labels


def heldout(text: str, label: str) -> str:
    """``text``, after asserting it is a held-out row of data/ labelled ``label``."""
    from training.prepare import is_heldout

    key = normalize(text)
    assert key in _labels(), f"{text!r} is not a row of data/utterances.csv"
    assert is_heldout(key), f"{text!r} is a training row: the model has seen it (pick a held-out row)"
    assert _labels()[key] == {label}, f"{text!r} is labelled {sorted(_labels()[key])} in data/, not {label!r}"
    return text
