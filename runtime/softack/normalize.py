"""The one text normaliser: the rules, training and inference all see text through it.

Streaming STT engines write the same sound many ways ("Uh-huh.", "uh huh", "uhhuh", "uh-hu";
"Mm-hmm", "mhm", "mm hmm"). The normaliser folds case, accents, punctuation and those spelling
variants into one canonical form, so that a soft-ack list entry, a training row and a live
transcript meet on the same tokens.

This module is the definition. For ASCII text (what STT engines send) a C module built at install
time (``_speedups.c``) runs the same algorithm with this module's tables, about four times faster
on long text; without a C compiler everything runs here. ``SPEEDUPS`` says which.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

__all__ = ["normalize", "normalize_both", "normalize_marked", "normalize_words", "has_word_characters", "SPEEDUPS"]

# Apostrophe look-alikes an STT or a keyboard may send.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# One pass over ASCII text: A-Z to a-z; a-z, 0-9 and the apostrophe kept; everything else (that
# is not a-z, 0-9 or an apostrophe) separates words. A backquote typed as an apostrophe is one, but
# a backquote left by accent folding (U+1FEF) is not: two tables.
_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789'"


def _ascii_table(backquote: bytes) -> bytes:
    table = bytearray(b" " * 256)
    for ch in _WORD_CHARS.encode():
        table[ch] = ch
    for ch in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[ch] = ch + 32
    table[ord("`")] = backquote[0]
    return bytes(table)


_FOLD_TYPED = _ascii_table(b"'")
_FOLD_DECOMPOSED = _ascii_table(b" ")
# Spelling variants of the same backchannel sound. One word at a time first (a full match of one
# of these patterns, first listed wins), then adjacent pairs of canonical words ("uh huh").
_WORD_VARIANTS: tuple[tuple[str, str], ...] = (
    (r"uh+hu+h*|uhhu", "uhhuh"),
    (r"m+h+m+|um+hu?m+|uhhu?m+", "mhm"),
    (r"h+m+", "hmm"),
    (r"m{2,}", "mm"),
    (r"ye+a+h*|yeh|yah", "yeah"),
    (r"o+h+", "oh"),
    (r"a+h+", "ah"),
    (r"u+m+", "um"),
    (r"u+h+", "uh"),
    (r"huh+", "huh"),
)
_WORD_RE = re.compile("|".join(f"(?P<v{i}>{p})" for i, (p, _) in enumerate(_WORD_VARIANTS)))
_WORD_CANONICAL = {f"v{i}": c for i, (_, c) in enumerate(_WORD_VARIANTS)}
_PAIRS: dict[tuple[str, str], str] = {
    ("uh", "huh"): "uhhuh",
    ("uh", "hu"): "uhhuh",
    ("mm", "hmm"): "mhm",
    ("m", "hmm"): "mhm",
    ("um", "hum"): "mhm",
    ("uh", "hum"): "mhm",
    ("hmm", "hmm"): "mhm",
    ("o", "k"): "ok",
    ("o", "kay"): "okay",
    ("all", "right"): "alright",
}
# Pairs fold left to right, each word in at most one pair. Only the positions of a pair's second
# half are visited (found by set intersection and list.index, in C), so text without one pays a
# single set check, and text with "right" or "huh" a few index calls.
_PAIR_SECOND = frozenset(second for _, second in _PAIRS)
_PAIR_FIRSTS: dict[str, frozenset[str]] = {  # second half -> the first halves it pairs with
    second: frozenset(first for first, other in _PAIRS if other == second) for second in _PAIR_SECOND
}


def _fold_pairs(words: list[str], seconds: set[str]) -> list[str]:
    """``words`` with their pairs folded; ``seconds``: the pairs' second halves among them."""
    starts: list[int] = []
    for second in seconds:
        firsts = _PAIR_FIRSTS[second]
        i = words.index(second)
        while True:
            if i and words[i - 1] in firsts:
                starts.append(i - 1)
            try:
                i = words.index(second, i + 1)
            except ValueError:
                break
    if not starts:
        return words
    starts.sort()
    out: list[str] = []
    done = 0  # words[:done] are already in out
    for i in starts:
        if i < done:  # its first half is the second half of a pair already folded
            continue
        out += words[done:i]
        out.append(_PAIRS[words[i], words[i + 1]])
        done = i + 2
    out += words[done:]
    return out


# Canonical form of each word seen, bounded so arbitrary input cannot grow it without limit.
_word_cache: dict[str, str] = {}
_WORD_CACHE_MAX = 50_000


def _canonical_word(word: str) -> str:
    canonical = _word_cache.get(word)
    if canonical is None:
        # apostrophes only inside words ("that's"), not as quotes ("'cause" -> "cause")
        bare = word.strip("'") if "'" in word else word
        match = _WORD_RE.fullmatch(bare)
        canonical = _WORD_CANONICAL[match.lastgroup] if match and match.lastgroup else bare  # type: ignore[index]
        if len(_word_cache) < _WORD_CACHE_MAX:
            _word_cache[word] = canonical
    return canonical


def normalize(text: str) -> str:
    """Return the canonical form of an utterance: lowercase a-z/0-9/apostrophe words, one space apart.

    Accented Latin letters lose their accents ("café" -> "cafe"); other scripts, emoji, control
    characters and punctuation become word breaks. Never raises on any ``str``.
    """
    return normalize_both(text)[0]


def normalize_words(text: str) -> list[str]:
    """The words of ``normalize(text)``."""
    return normalize_both(text)[1]


def normalize_both(text: str) -> tuple[str, list[str]]:
    """``normalize(text)`` and its words."""
    if _speedups is not None and text.isascii():
        fast = _speedups.normalize_ascii(text)
        if fast is not None:
            return fast[0], fast[0].split()
    return _normalize_both(text)


def normalize_marked(
    text: str, marks: frozenset[str]
) -> tuple[str, list[str] | None, AbstractSet[str] | Mapping[str, int]]:
    """The decision's hot path: ``normalize(text)``, its words or None (then they are
    ``normalized.split()``, for the caller to make only if it needs them), and a collection that
    holds every word of the text that is in ``marks`` (perhaps with a few other words, which cost
    the rules' lookups only a ``str.find``). The C path finds them in its one pass over the text,
    and gives them as a dict: each word -> an offset in the text at or before its first
    occurrence."""
    if _speedups is not None and text.isascii():
        if marks not in _registered:
            _speedups.add_marks(marks)
            _registered.add(marks)
        fast = _speedups.normalize_ascii(text)
        if fast is not None:
            return fast[0], None, fast[1] or _NONE
    normalized, words = _normalize_both(text)
    return normalized, words, marks.intersection(words)


_NONE: frozenset[str] = frozenset()
_registered: set[frozenset[str]] = set()  # the marks handed to the C path


def _normalize_both(text: str) -> tuple[str, list[str]]:
    """The reference: ``normalize_both`` in Python (also the path for text that is not ASCII)."""
    if not text:
        return "", []
    if text.isascii():
        text = text.encode("ascii").translate(_FOLD_TYPED).decode("ascii")
    else:
        # Lone surrogates (from invalid UTF-8 decoded with surrogateescape) cannot be normalised.
        text = text.encode("utf-8", "replace").decode("utf-8")
        text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
        text = text.encode("ascii", "ignore").translate(_FOLD_DECOMPOSED).decode("ascii")
    raw = text.split()
    # Every word seen before is one dictionary lookup, all in C; a new word takes the slow path.
    try:
        words = list(map(_word_cache.__getitem__, raw))
    except KeyError:
        words = [_canonical_word(w) for w in raw]
    if "'" in text and (text[0] == "'" or " '" in text) and "" in words:
        # a word made only of apostrophes (only spaces separate words after the fold above)
        words = [w for w in words if w]
    seconds = _PAIR_SECOND.intersection(words)
    if seconds:
        words = _fold_pairs(words, seconds)
    return " ".join(words), words


# The same algorithm in C for ASCII text (softack/_speedups.c), when the build compiled it; it is
# handed this module's tables, so the rules above stay the only definition.
try:
    from . import _speedups  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install time: the Python path above does the same
    _speedups = None
else:
    # a per-process seed for its table's hash, so that colliding words cannot be prepared
    _speedups.configure(_FOLD_TYPED, _canonical_word, _PAIRS, int.from_bytes(os.urandom(8), "little"))
SPEEDUPS: bool = _speedups is not None  # True when the C normaliser is in use


def has_word_characters(text: str) -> bool:
    """True when ``text`` has a letter or digit in any script (speech, even if not Latin), also
    inside a compatibility character that ``normalize`` unfolds ("\u3358", a symbol, is "0\u70b9")."""
    if any(ch.isalnum() for ch in text):
        return True
    # the rare text with no letter or digit as written: read it as normalize() does
    text = text.encode("utf-8", "replace").decode("utf-8")
    return any(ch.isalnum() for ch in unicodedata.normalize("NFKD", text))
