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
# Spelling variants of the same backchannel sound, matched on the joined token string.
# Order matters: multi-word forms first.
_PHRASE_VARIANTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"(?<![a-z0-9'])(?:{pattern})(?![a-z0-9'])"), canonical)
    for pattern, canonical in (
        (r"uh ?huh+|uh ?hu|uhhu", "uhhuh"),
        (r"(?:m+ ?h+m+|um+ ?hu?m+|uh ?hu?m+|m+hm+|hm+ ?hm+)", "mhm"),
        (r"o k", "ok"),
        (r"o kay", "okay"),
        (r"h+m+", "hmm"),
        (r"m{2,}", "mm"),
        (r"ye+a+h*|yeh|yah", "yeah"),
        (r"o+h+", "oh"),
        (r"a+h+", "ah"),
        (r"u+m+", "um"),
        (r"u+h+", "uh"),
        (r"all right", "alright"),
    )
)
_SPACES = re.compile(r" +")


def normalize(text: str) -> str:
    """Return the canonical form of an utterance: lowercase a-z/0-9/apostrophe words, one space apart.

    Accented Latin letters lose their accents ("café" -> "cafe"); other scripts, emoji, control
    characters and punctuation become word breaks. Never raises on any ``str``.
    """
    if not text:
        return ""
    # Lone surrogates (from invalid UTF-8 decoded with surrogateescape) cannot be normalised.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = _NON_WORD.sub(" ", text)
    # Apostrophes only inside words ("that's"), not as quotes ("'cause" -> "cause").
    text = " ".join(word.strip("'") for word in text.split())
    for pattern, canonical in _PHRASE_VARIANTS:
        text = pattern.sub(canonical, text)
    return _SPACES.sub(" ", text).strip()


def tokens(normalized: str) -> list[str]:
    """Split normalised text into words."""
    return normalized.split()


def has_word_characters(text: str) -> bool:
    """True when ``text`` has a letter or digit in any script (speech, even if not Latin)."""
    return any(ch.isalnum() for ch in text)
