"""The deterministic first pass over normalised words: keywords and soft-acks.

One left-to-right scan takes, at each word, the longest phrase from either list that starts
there. A keyword anywhere makes the utterance an interruption ("yeah okay but wait"). Text made
only of soft-ack phrases is a backchannel ("okay yeah uh-huh"). Anything else is for the model.
Longest-match lets a configured soft-ack phrase that contains a keyword ("no way") stand as a
phrase, while "no" alone still interrupts. Soft-acks whose last words are the start of a
soft-ack phrase ("i" of "i see", "yeah got" of "got it") are PARTIAL: on an interim transcript
the next words decide, not these.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

from .config import SoftAckConfig

__all__ = ["PhraseFinder", "RuleVerdict", "RuleResult", "RuleMatcher"]


class PhraseFinder:
    """Finds the first of some phrases in normalised text; at one position the longest wins.

    Only the words that begin a phrase are looked for (a set intersection, then ``str.find`` in the
    text, both in C), so text without one costs a single set operation whatever its length.
    Normalised text has one space between words, so " hold on " found in " " + text + " " is
    those words.

    Args:
        phrases: normalised phrases of one or more words.
    """

    __slots__ = ("firsts", "_by_first")

    def __init__(self, phrases: Iterable[str]) -> None:
        by_first: dict[str, list[tuple[str, str]]] = {}  # first word -> [(" phrase ", phrase)]
        for phrase in phrases:
            text = " ".join(phrase.split())
            if text:
                by_first.setdefault(text.split(" ", 1)[0], []).append((f" {text} ", text))
        for entries in by_first.values():
            entries.sort(key=lambda e: -len(e[1].split()))
        self._by_first = {first: (f" {first} ", entries) for first, entries in by_first.items()}
        self.firsts = frozenset(by_first)  # the words a phrase begins with

    def first(self, words: list[str], text: str | None = None) -> str | None:
        """The phrase found first in ``words``, or None; ``text``, when given, is ``" ".join(words)``."""
        present = self.firsts.intersection(words)
        if not present:
            return None
        padded = f" {' '.join(words) if text is None else text} "
        best, matched = len(padded), None
        for first in present:
            key, entries = self._by_first[first]
            i = padded.find(key)
            while 0 <= i < best:
                for spaced, text in entries:  # longest first
                    if padded.startswith(spaced, i):
                        best, matched = i, text  # and the while ends: i == best
                        break
                else:
                    i = padded.find(key, i + 1)
        return matched


class RuleVerdict(str, enum.Enum):
    KEYWORD = "keyword"
    SOFT_ACK = "soft_ack"
    PARTIAL = "partial"  # soft-acks, then the beginning of a soft-ack phrase
    UNDECIDED = "undecided"


class RuleResult(NamedTuple):
    verdict: RuleVerdict
    matched: str | None = None  # the keyword that fired


class RuleMatcher:
    """Compiled soft-ack and keyword phrases for fast matching.

    Most utterances are settled by set lookups done in C: no keyword's first word and a word that
    no soft-ack uses means "undecided", whatever the length. Only text that might be all soft-acks
    walks the words one by one (the scan), and the scan alone settles keywords when the text holds
    a soft-ack phrase that contains a keyword's first word ("no way"), since longest-match can then
    hide that keyword.

    Args:
        config: the lists to match.
    """

    __slots__ = ("config", "_phrases", "_keywords", "_soft_words", "_hiders")

    def __init__(self, config: SoftAckConfig) -> None:
        self.config = config
        # first word -> [(words, is_keyword)], longest first; keywords first among equals.
        phrases: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        for phrase, is_keyword in [(p, False) for p in config.soft_acks] + [
            (k, True) for k in config.keywords
        ]:
            words = tuple(phrase.split())
            phrases.setdefault(words[0], []).append((words, is_keyword))
        for entries in phrases.values():
            entries.sort(key=lambda e: (-len(e[0]), not e[1]))
        self._phrases = phrases
        self._keywords = PhraseFinder(config.keywords)
        self._soft_words = frozenset(w for phrase in config.soft_acks for w in phrase.split())
        # Soft-ack phrases that contain a keyword's first word ("no way"): only where one of them
        # occurs can longest-match hide a keyword, and only there is the scan needed.
        hiders = [p for p in config.soft_acks if not self._keywords.firsts.isdisjoint(p.split())]
        self._hiders = PhraseFinder(hiders) if hiders else None

    def match(self, words: list[str], text: str | None = None) -> RuleResult:
        """Classify a list of normalised words (see the module docstring); ``text``, when given, is
        ``" ".join(words)`` (the decision has it already)."""
        if self._hiders is not None and self._hiders.first(words, text) is not None:
            return self._scan(words)
        # No soft-ack phrase here contains a keyword's first word, so the scan would reach the first
        # position where a keyword matches, and take the longest keyword there.
        found = self._keywords.first(words, text)
        if found is not None:
            return RuleResult(RuleVerdict.KEYWORD, found)
        # No keyword. Soft-acks alone, or soft-acks then the start of one, use soft-ack words only.
        if not words or not all(map(self._soft_words.__contains__, words)):
            return _UNDECIDED
        return self._scan(words)

    def _scan(self, words: list[str]) -> RuleResult:
        """The reference: one left-to-right scan taking the longest phrase at each word."""
        phrases = self._phrases
        all_soft = bool(words)
        i, n = 0, len(words)
        while i < n:
            candidates = phrases.get(words[i])
            step = 0
            if candidates:
                for phrase, is_keyword in candidates:
                    k = len(phrase)
                    if k == 1 or tuple(words[i : i + k]) == phrase:
                        if is_keyword:
                            return RuleResult(RuleVerdict.KEYWORD, " ".join(phrase))
                        step = k
                        break
            if step == 0:
                if all_soft and candidates and self._begins_soft_phrase(words[i:], candidates):
                    return _PARTIAL
                all_soft = False
                step = 1
            i += step
        return _SOFT_ACK if all_soft else _UNDECIDED

    @staticmethod
    def _begins_soft_phrase(tail: list[str], candidates: list[tuple[tuple[str, ...], bool]]) -> bool:
        k = len(tail)
        return any(not is_kw and len(phrase) > k and list(phrase[:k]) == tail for phrase, is_kw in candidates)


_SOFT_ACK = RuleResult(RuleVerdict.SOFT_ACK)
_PARTIAL = RuleResult(RuleVerdict.PARTIAL)
_UNDECIDED = RuleResult(RuleVerdict.UNDECIDED)
