"""The decision: given what the user just said and what the agent is doing, ignore or interrupt.

Pure: no LiveKit import and no I/O per call. The LiveKit gate (``softack.gate``) is a thin layer
that feeds transcripts in and acts on the answer.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import NamedTuple

from .config import SoftAckConfig
from .normalize import has_word_characters, normalize
from .onnx_model import OnnxClassifier
from .rules import RuleMatcher, RuleVerdict

logger = logging.getLogger("softack")

__all__ = ["Action", "Reason", "Decision", "BackchannelFilter", "FILTERED_AGENT_STATES", "decide", "default_filter"]

# While the agent talks or prepares to talk, user speech is judged; otherwise it is a normal turn.
FILTERED_AGENT_STATES = frozenset({"speaking", "thinking"})


class Action(str, enum.Enum):
    IGNORE = "ignore"  # a backchannel: the agent keeps talking
    INTERRUPT = "interrupt"  # the user takes the floor: stop now
    PASS_THROUGH = "pass_through"  # the agent is not talking: a normal user turn
    WAIT = "wait"  # nothing to judge yet (no text, or an interim that only begins a soft-ack phrase)


class Reason(str, enum.Enum):
    SOFT_ACK = "soft_ack"  # every word is on the soft-ack list
    KEYWORD = "keyword"  # an interrupt keyword was said
    MODEL = "model"  # the classifier decided
    AGENT_SILENT = "agent_silent"  # the agent is listening: nothing to filter
    EMPTY = "empty"  # no words in the text
    PARTIAL = "partial"  # an interim that so far only begins a soft-ack phrase ("i" of "i see")
    UNRECOGNISED = "unrecognised"  # words the model cannot read (another script): yield, never drop
    FALLBACK = "fallback"  # the model failed; the safe answer is to yield


class Decision(NamedTuple):
    """What to do with one transcript (immutable; a NamedTuple because it is built on the hot path).

    Attributes:
        action: ignore, interrupt, pass-through or wait.
        reason: which stage decided.
        text: the normalised text the decision was made on.
        score: the model's interruption probability, when the model was used.
        provisional: True for an ignore made on a partial transcript: later words may still turn it
            into an interruption. An interruption is never provisional.
        keyword: the keyword that fired, for ``Reason.KEYWORD``.
    """

    action: Action
    reason: Reason
    text: str
    score: float | None = None
    provisional: bool = False
    keyword: str | None = None

    @property
    def interrupts(self) -> bool:
        return self.action is Action.INTERRUPT


class BackchannelFilter:
    """Decides ignore / interrupt for user speech heard while the agent speaks or thinks.

    Args:
        config: the soft-ack and keyword lists; ``SoftAckConfig.from_env()`` when None.
        classifier: the model; loaded from the default path when None. Pass ``False`` to run the
            rules alone (anything they leave undecided then interrupts).
        threshold: interruption probability at or above which the model says interrupt; the
            threshold stored in the model when None.
    """

    def __init__(
        self,
        config: SoftAckConfig | None = None,
        classifier: OnnxClassifier | None | bool = None,
        *,
        threshold: float | None = None,
    ) -> None:
        self._rules = RuleMatcher(config if config is not None else SoftAckConfig.from_env())
        if classifier is None or classifier is True:
            classifier = OnnxClassifier()
        self.classifier: OnnxClassifier | None = classifier or None
        self.threshold = threshold if threshold is not None else (
            self.classifier.threshold if self.classifier is not None else 0.5
        )
        self._model_failed_logged = False

    @property
    def config(self) -> SoftAckConfig:
        return self._rules.config

    def update_options(self, *, config: SoftAckConfig | None = None, threshold: float | None = None) -> None:
        """Change settings on a live filter (takes effect from the next decision)."""
        if config is not None:
            self._rules = RuleMatcher(config)
        if threshold is not None:
            self.threshold = threshold

    def reload_config(self, **from_env_kwargs: object) -> SoftAckConfig:
        """Re-read ``LIVEKIT_SOFT_ACKS`` / ``LIVEKIT_INTERRUPT_KEYWORDS`` (environment and ``.env``)."""
        config = SoftAckConfig.from_env(**from_env_kwargs)  # type: ignore[arg-type]
        self.update_options(config=config)
        return config

    def decide(self, text: str, agent_state: str = "speaking", *, final: bool = False) -> Decision:
        """Decide what the agent should do about ``text``.

        Args:
            text: the transcript so far (interim or final), as the STT wrote it.
            agent_state: LiveKit's agent state: "speaking" and "thinking" are filtered; any other
                state passes the speech through as a normal turn.
            final: True for a final transcript; an ignore of a partial one is provisional.

        Returns:
            The ``Decision``. Never raises for any ``str``.
        """
        if not isinstance(text, str):
            text = str(text)
        if not logger.isEnabledFor(logging.DEBUG):
            return self._decide(text, agent_state, final)
        started = time.perf_counter()
        decision = self._decide(text, agent_state, final)
        logger.debug(
            "decision %s reason=%s score=%s provisional=%s took=%.1fus text=%r",
            decision.action.value,
            decision.reason.value,
            "-" if decision.score is None else f"{decision.score:.3f}",
            decision.provisional,
            (time.perf_counter() - started) * 1e6,
            decision.text[:80],
        )
        return decision

    def _decide(self, text: str, agent_state: str, final: bool) -> Decision:
        normalized = normalize(text)
        if agent_state not in FILTERED_AGENT_STATES:
            return Decision(Action.PASS_THROUGH, Reason.AGENT_SILENT, normalized)
        if not normalized:
            if has_word_characters(text):
                return Decision(Action.INTERRUPT, Reason.UNRECOGNISED, normalized)
            return Decision(Action.WAIT, Reason.EMPTY, normalized)
        rule = self._rules.match(normalized.split())
        if rule.verdict is RuleVerdict.KEYWORD:
            return Decision(Action.INTERRUPT, Reason.KEYWORD, normalized, keyword=rule.matched)
        if rule.verdict is RuleVerdict.SOFT_ACK:
            return Decision(Action.IGNORE, Reason.SOFT_ACK, normalized, provisional=not final)
        if rule.verdict is RuleVerdict.PARTIAL and not final:
            # the next interim tells "i see" from "i want": wait for it rather than judge "i"
            return Decision(Action.WAIT, Reason.PARTIAL, normalized)
        if self.classifier is None:
            return Decision(Action.INTERRUPT, Reason.FALLBACK, normalized)
        try:
            score = self.classifier.score(normalized)
        except Exception:
            if not self._model_failed_logged:
                logger.exception("softack model failed; undecided speech interrupts until it recovers")
                self._model_failed_logged = True
            return Decision(Action.INTERRUPT, Reason.FALLBACK, normalized)
        if score >= self.threshold:
            return Decision(Action.INTERRUPT, Reason.MODEL, normalized, score=score)
        return Decision(Action.IGNORE, Reason.MODEL, normalized, score=score, provisional=not final)


_default_filter: BackchannelFilter | None = None


def default_filter() -> BackchannelFilter:
    """The process-wide filter: lists from the environment, the shipped model; built on first use.

    It holds no per-call or per-session state, so sessions can share it. Raises
    ``ModelLoadError`` when the model cannot be loaded.
    """
    global _default_filter
    if _default_filter is None:
        _default_filter = BackchannelFilter()
    return _default_filter


def decide(text: str, agent_state: str = "speaking", *, final: bool = False) -> Decision:
    """``BackchannelFilter.decide`` on ``default_filter()``."""
    return default_filter().decide(text, agent_state, final=final)
