"""The one text normaliser: the rules, training and inference all see text through it.

Streaming STT engines write the same sound many ways ("Uh-huh.", "uh huh", "uhhuh", "uh-hu";
"Mm-hmm", "mhm", "mm hmm"). The normaliser folds case, accents, punctuation and those spelling
variants into one canonical form, so that a soft-ack list entry, a training row and a live
transcript meet on the same tokens.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "has_word_characters"]

# Apostrophe look-alikes an STT or a keyboard may send.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Everything that is not a-z, 0-9 or an apostrophe separates words.
_NON_WORD = re.compile(r"[^a-z0-9']+")
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
_PAIR_FIRST = frozenset(first for first, _ in _PAIRS)
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
    if not text:
        return ""
    if not text.isascii():
        # Lone surrogates (from invalid UTF-8 decoded with surrogateescape) cannot be normalised.
        text = text.encode("utf-8", "replace").decode("utf-8")
        text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
        text = text.encode("ascii", "ignore").decode("ascii")
    elif "`" in text:
        text = text.replace("`", "'")
    cache = _word_cache
    words = [cache.get(w) or _canonical_word(w) for w in _NON_WORD.sub(" ", text.lower()).split()]
    if "" in words:  # a word made only of apostrophes
        words = [w for w in words if w]
    if not _PAIR_FIRST.isdisjoint(words):
        folded: list[str] = []
        i, n = 0, len(words)
        while i < n:
            pair = _PAIRS.get((words[i], words[i + 1])) if i + 1 < n else None
            if pair is None:
                folded.append(words[i])
                i += 1
            else:
                folded.append(pair)
                i += 2
        words = folded
    return " ".join(words)


def has_word_characters(text: str) -> bool:
    """True when ``text`` has a letter or digit in any script (speech, even if not Latin)."""
    return any(ch.isalnum() for ch in text)
