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
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from .config import SoftAckConfig
from .normalize import _speedups

_first_phrase = _speedups.first_phrase if _speedups is not None else None

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

    __slots__ = ("firsts", "phrases", "_by_first")

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
        self.phrases = frozenset(text for entries in by_first.values() for _, text in entries)

    def first(self, words: list[str], text: str | None = None) -> str | None:
        """The phrase found first in ``words``, or None; ``text``, when given, is ``" ".join(words)``."""
        present = self.firsts.intersection(words)
        if not present:
            return None
        return self.first_of(present, f" {' '.join(words) if text is None else text} ")

    def first_of(self, present: Iterable[str], padded: str) -> str | None:
        """``first`` when the caller has the text's words that may begin one of these phrases
        (``present``: any collection holding them, other words do no harm; as a dict, each word
        maps to an offset in ``padded`` at or before its first occurrence, where the search
        starts) and the text as ``" " + text + " "``. In C when softack's C module is built."""
        if _first_phrase is not None:
            return _first_phrase(self._by_first, present, padded)
        return self._first_of(present, padded)

    def _first_of(self, present: Iterable[str], padded: str) -> str | None:
        """The definition of ``first_of`` (``_speedups.first_phrase`` does the same in C)."""
        best, matched = len(padded), None
        by_first = self._by_first
        offsets = present if isinstance(present, dict) else {}
        for first in present:
            entry = by_first.get(first)
            if entry is None:
                continue
            key, entries = entry
            i = padded.find(key, max(0, offsets.get(first, 0)))
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
    named: str | None = None  # with a keyword: the first of the matcher's ``named`` phrases in the text


class RuleMatcher:
    """Compiled soft-ack and keyword phrases for fast matching.

    Most utterances are settled by set lookups done in C: no keyword's first word and a word that
    no soft-ack uses means "undecided", whatever the length. Only text that might be all soft-acks
    walks the words one by one (the scan), and the scan alone settles keywords when the text holds
    a soft-ack phrase that contains a keyword's first word ("no way"), since longest-match can then
    hide that keyword.

    Args:
        config: the lists to match.
        named: phrases a keyword verdict also looks for: the keyword itself when it is one of them,
            else the first of them in the text (the decision names an intent by them: "no stop" is
            a stop request). All the phrase lookups share one set intersection and padded text.
    """

    __slots__ = ("config", "marks", "_phrases", "_keywords", "_soft_words", "_hiders", "_named")

    def __init__(self, config: SoftAckConfig, named: Iterable[str] = ()) -> None:
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
        self._named = PhraseFinder(named)
        # Every word a lookup starts from: the lookups need only the text's words among these.
        self.marks: frozenset[str] = (
            self._keywords.firsts | self._named.firsts | (self._hiders.firsts if self._hiders else frozenset())
        )

    def match(
        self,
        words: list[str] | None,
        text: str | None = None,
        present: AbstractSet[str] | Mapping[str, int] | None = None,
    ) -> RuleResult:
        """Classify normalised words (see the module docstring).

        Args:
            words: the words; None when ``text`` is given, for words only split from it if needed.
            text: ``" ".join(words)``, when the caller has it.
            present: a collection holding every word of ``words`` that is in ``marks`` (other
                words do no harm; a dict maps each to an offset at or before its first occurrence
                in ``text``), when the caller has it (``normalize_marked`` does).
        """
        if words is None:
            if text is None:
                raise TypeError("match() needs words or text")
            if present is None:
                words = text.split()
        if present is None:
            present = self.marks.intersection(words)  # type: ignore[arg-type]
        if present:
            padded = f" {' '.join(words) if text is None else text} "  # type: ignore[arg-type]
            if self._hiders is not None and self._hiders.first_of(present, padded) is not None:
                result = self._scan(words if words is not None else padded.split())
            else:
                # No soft-ack phrase here contains a keyword's first word, so the scan would reach
                # the first position where a keyword matches, and take the longest keyword there.
                found = self._keywords.first_of(present, padded)
                result = RuleResult(RuleVerdict.KEYWORD, found) if found is not None else None
            if result is not None and result.verdict is RuleVerdict.KEYWORD:
                matched = result.matched
                named = matched if matched in self._named.phrases else self._named.first_of(present, padded)
                return RuleResult(RuleVerdict.KEYWORD, matched, named)
            if result is not None:
                return result
        # No keyword. Soft-acks alone, or soft-acks then the start of one, use soft-ack words only.
        if words is None:
            # read word by word up to the first that is no soft-ack word (most text: the first),
            # rather than split a long text that is only for the model
            if not text or not _all_in(text, self._soft_words):  # type: ignore[arg-type]
                return _UNDECIDED
            words = text.split()  # type: ignore[union-attr]
        elif not words or not all(map(self._soft_words.__contains__, words)):
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


def _all_in(text: str, words: frozenset[str]) -> bool:
    """Whether every word of normalised ``text`` (one space between words) is in ``words``."""
    start = 0
    find = text.find
    while (end := find(" ", start)) >= 0:
        if text[start:end] not in words:
            return False
        start = end + 1
    return text[start:] in words


_SOFT_ACK = RuleResult(RuleVerdict.SOFT_ACK)
_PARTIAL = RuleResult(RuleVerdict.PARTIAL)
_UNDECIDED = RuleResult(RuleVerdict.UNDECIDED)
