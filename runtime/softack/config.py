"""Soft-ack and keyword lists: defaults, the environment, a ``.env`` file, and reloading.

``LIVEKIT_SOFT_ACKS=a,b,c`` replaces the soft-ack list; ``LIVEKIT_INTERRUPT_KEYWORDS=a,b,c``
replaces the keyword list. Values are read from the process environment first and then from a
``.env`` file found from the working directory upwards. A malformed value logs a warning and the
defaults are kept: a typo in a deployment must never stop a call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .normalize import normalize

logger = logging.getLogger("softack")

__all__ = [
    "DEFAULT_SOFT_ACKS",
    "DEFAULT_INTERRUPT_KEYWORDS",
    "SOFT_ACKS_ENV",
    "KEYWORDS_ENV",
    "MAX_ENTRIES",
    "MAX_ENTRY_WORDS",
    "SoftAckConfig",
]

SOFT_ACKS_ENV = "LIVEKIT_SOFT_ACKS"
KEYWORDS_ENV = "LIVEKIT_INTERRUPT_KEYWORDS"

# The original design's list (okay, yeah, uhhuh, ok, hmm, right), plus the label policy's other
# continuers ("mm-hmm", yep, yes, sure, alright), its plainest acknowledgements (oh, i see, got it,
# gotcha) and its fillers. The normaliser folds "uh-huh", "uh huh", "uh-hu", "mm-hmm", "mm hmm",
# "um-hum", "hm", "umm", "yea" and friends into these, so each entry covers its STT spellings.
# A filler or "oh" alone is not a turn; one that opens a real sentence is decided on the words
# that follow (the ignore is provisional until then). "no way" is the policy's backchannel
# question: as a phrase it stands (longest match), while "no" alone still interrupts, and an
# interim "no" interrupts before "way" can arrive.
DEFAULT_SOFT_ACKS: tuple[str, ...] = (
    "okay", "yeah", "uhhuh", "ok", "hmm", "right",
    "mhm", "yep", "yup", "yes", "sure", "alright",
    "oh", "i see", "got it", "gotcha",
    "mm", "um", "uh", "no way",
)  # fmt: skip

# Words and phrases that always take the floor, whatever surrounds them. Kept to words that are
# rarely part of a backchannel: "enough" is not here because of "fair enough", "what" not because
# of "oh what fun"; the model handles those.
DEFAULT_INTERRUPT_KEYWORDS: tuple[str, ...] = (
    "but",
    "wait",
    "no",
    "nope",
    "huh uh",  # "huh-uh", "nuh-uh": no (the normaliser keeps them apart from "uh-huh")
    "nuh uh",
    "stop",
    "hold on",
    "hang on",
    "hold up",
    "pause",
    "cancel",
    "actually",
    "excuse me",
    "pardon",
    "never mind",
    "nevermind",
    "one second",
    "one sec",
    "however",
)

# Bounds on a configured list: beyond these the value is treated as malformed.
MAX_ENTRIES = 500
MAX_ENTRY_WORDS = 6


def _parse_list(name: str, raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """Parse a comma-separated list from the environment; on any problem warn and keep ``default``."""
    if raw is None:
        return default
    entries: list[str] = []
    for part in raw.split(","):
        entry = normalize(part)
        if entry and entry not in entries:
            entries.append(entry)
    if not entries:
        logger.warning("%s=%r has no usable entries; keeping the defaults %s", name, raw[:80], default)
        return default
    if len(entries) > MAX_ENTRIES or any(len(e.split()) > MAX_ENTRY_WORDS for e in entries):
        logger.warning(
            "%s has %d entries or an entry longer than %d words; keeping the defaults",
            name,
            len(entries),
            MAX_ENTRY_WORDS,
        )
        return default
    return tuple(entries)


def _read_dotenv(path: str | None) -> dict[str, str]:
    """Values of a ``.env`` file (found upwards from the working directory when ``path`` is None)."""
    from dotenv import dotenv_values, find_dotenv

    try:
        found = path if path is not None else find_dotenv(usecwd=True)
        if not found:
            return {}
        return {k: v for k, v in dotenv_values(found).items() if v is not None}
    except (OSError, UnicodeDecodeError, ValueError) as e:
        logger.warning("could not read .env file %s (%s); using the environment and defaults", path, e)
        return {}


@dataclass(frozen=True)
class SoftAckConfig:
    """The deterministic first pass: which phrases are soft-acks and which always interrupt.

    Args:
        soft_acks: normalised phrases that, alone or repeated, are a backchannel.
        keywords: normalised words or phrases that make any utterance an interruption. A phrase on
            both lists is a keyword: interruptions win.
    """

    soft_acks: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_SOFT_ACKS))
    keywords: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_INTERRUPT_KEYWORDS))

    def __post_init__(self) -> None:
        soft = frozenset(filter(None, (normalize(s) for s in self.soft_acks)))
        keys = frozenset(filter(None, (normalize(k) for k in self.keywords)))
        clash = soft & keys
        if clash:
            logger.warning(
                "soft-acks %s are also interrupt keywords; they will interrupt", sorted(clash)
            )
        object.__setattr__(self, "soft_acks", soft - keys)
        object.__setattr__(self, "keywords", keys)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv_path: str | None = None,
        use_dotenv: bool = True,
    ) -> SoftAckConfig:
        """Build the configuration from the environment, then a ``.env`` file, then the defaults.

        Args:
            environ: the variables to read (``os.environ`` when None).
            dotenv_path: an explicit ``.env`` file; when None one is searched for upwards from the
                working directory.
            use_dotenv: set False to ignore ``.env`` files entirely.
        """
        env = dict(_read_dotenv(dotenv_path)) if use_dotenv else {}
        env.update(os.environ if environ is None else environ)
        return cls(
            soft_acks=frozenset(_parse_list(SOFT_ACKS_ENV, env.get(SOFT_ACKS_ENV), DEFAULT_SOFT_ACKS)),
            keywords=frozenset(
                _parse_list(KEYWORDS_ENV, env.get(KEYWORDS_ENV), DEFAULT_INTERRUPT_KEYWORDS)
            ),
        )

    def with_soft_acks(self, soft_acks: Iterable[str]) -> SoftAckConfig:
        """A copy with another soft-ack list."""
        return SoftAckConfig(soft_acks=frozenset(soft_acks), keywords=self.keywords)

    def with_keywords(self, keywords: Iterable[str]) -> SoftAckConfig:
        """A copy with another keyword list."""
        return SoftAckConfig(soft_acks=self.soft_acks, keywords=frozenset(keywords))
