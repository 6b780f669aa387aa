"""The one text normaliser: the rules, training and inference all see text through it.

Streaming STT engines write the same sound many ways ("Uh-huh.", "uh huh", "uhhuh", "uh-hu";
"Mm-hmm", "mhm", "mm hmm"). The normaliser folds case, accents, punctuation and those spelling
variants into one canonical form, so that a soft-ack list entry, a training row and a live
transcript meet on the same tokens.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "tokens", "has_word_characters"]

# Apostrophe look-alikes an STT or a keyboard may send.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Everything that is not a-z, 0-9 or an apostrophe separates words.
_NON_WORD = re.compile(r"[^a-z0-9']+")
# Spelling variants of the same backchannel sound, each with its canonical form. All are matched
# in one pass of one regex over whole words; at a given position the first listed alternative wins,
# so multi-word forms come first.
_VARIANTS: tuple[tuple[str, str], ...] = (
    (r"uh ?huh+|uh ?hu|uhhu", "uhhuh"),
    (r"m+ ?h+m+|um+ ?hu?m+|uh ?hu?m+|m+hm+|hm+ ?hm+", "mhm"),
    (r"o k", "ok"),
    (r"o kay", "okay"),
    (r"all right", "alright"),
    (r"h+m+", "hmm"),
    (r"m{2,}", "mm"),
    (r"ye+a+h*|yeh|yah", "yeah"),
    (r"o+h+", "oh"),
    (r"a+h+", "ah"),
    (r"u+m+", "um"),
    (r"u+h+", "uh"),
)
_VARIANT_RE = re.compile(
    r"(?<![a-z0-9'])(?:"
    + "|".join(f"(?P<v{i}>{pattern})" for i, (pattern, _) in enumerate(_VARIANTS))
    + r")(?![a-z0-9'])"
)
_CANONICAL = {f"v{i}": canonical for i, (_, canonical) in enumerate(_VARIANTS)}


def _canonical(match: re.Match[str]) -> str:
    return _CANONICAL[match.lastgroup]  # type: ignore[index]


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
    text = _NON_WORD.sub(" ", text.lower())
    if "'" in text:
        # Apostrophes only inside words ("that's"), not as quotes ("'cause" -> "cause").
        text = " ".join(word.strip("'") for word in text.split())
    text = _VARIANT_RE.sub(_canonical, text)
    return " ".join(text.split())


def tokens(normalized: str) -> list[str]:
    """Split normalised text into words."""
    return normalized.split()


def has_word_characters(text: str) -> bool:
    """True when ``text`` has a letter or digit in any script (speech, even if not Latin)."""
    return any(ch.isalnum() for ch in text)
