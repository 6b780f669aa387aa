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
from .context import AgentContext, Cue
from .normalize import has_word_characters, normalize_marked
from .onnx_model import OnnxClassifier
from .rules import RuleMatcher, RuleVerdict

logger = logging.getLogger("softack")

__all__ = [
    "Action",
    "AgentContext",
    "BackchannelFilter",
    "Decision",
    "FILTERED_AGENT_STATES",
    "Intent",
    "Reason",
    "decide",
    "default_filter",
]

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


class Intent(str, enum.Enum):
    """Why the caller speaks (the label policy's "Intents"). Only ``BACKCHANNEL`` keeps the agent talking."""

    BACKCHANNEL = "BACKCHANNEL"  # listening: a nod, an assessment, a filler
    ANSWER = "ANSWER"  # a reply to the agent's own question ("yes" after "shall I book it?")
    QUESTION = "QUESTION"  # wants an answer ("what's the fee?")
    CORRECTION = "CORRECTION"  # "no, it's Tuesday", "that's not my address"
    STOP_REQUEST = "STOP_REQUEST"  # "stop", "wait", "skip that"
    HOLD_REQUEST = "HOLD_REQUEST"  # "hold on", "one sec, let me grab a pen": wait, don't answer
    CANT_HEAR = "CANT_HEAR"  # "what?", "you're breaking up", "can you repeat that"
    TAKES_TURN = "TAKES_TURN"  # a statement, complaint or new request
    CLOSING = "CLOSING"  # "okay thanks, bye"


# A model's class name -> Intent; a name this softack does not know (a model from elsewhere) is a turn.
_INTENT_BY_NAME: dict[str, Intent] = {i.value: i for i in Intent}

# Keywords whose intent does not depend on what surrounds them. The others ("no", "but",
# "actually", and any a deployer adds) take the model's intent, or TAKES_TURN without a model.
KEYWORD_INTENTS: dict[str, Intent] = {
    **dict.fromkeys(
        ("stop", "wait", "pause", "cancel", "enough", "skip that", "never mind", "nevermind", "be quiet",
         "shut up", "hold up"),
        Intent.STOP_REQUEST,
    ),
    **dict.fromkeys(
        ("hold on", "hang on", "one second", "one sec", "one moment", "just a second", "give me a second"),
        Intent.HOLD_REQUEST,
    ),
    **dict.fromkeys(("pardon", "come again", "say again"), Intent.CANT_HEAR),
}  # fmt: skip


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
        intent: why the caller speaks; ``BACKCHANNEL`` for an ignore (and for a wait: nothing to
            act on yet), ``TAKES_TURN`` for a normal turn while the agent is silent.
        context: the agent's line the decision read, or None.
    """

    action: Action
    reason: Reason
    text: str
    score: float | None = None
    provisional: bool = False
    keyword: str | None = None
    intent: Intent = Intent.BACKCHANNEL
    context: AgentContext | None = None

    @property
    def interrupts(self) -> bool:
        return self.action is Action.INTERRUPT


class BackchannelFilter:
    """Decides ignore / interrupt for user speech heard while the agent speaks or thinks.

    Args:
        config: the soft-ack and keyword lists; ``SoftAckConfig.from_env()`` when None.
        classifier: the model; loaded from the default path when None. Pass ``False`` to run the
            rules alone (anything they leave undecided then interrupts).
        threshold: interruption probability at or above which the model says interrupt on the
            caller's words alone; the threshold stored in the model when None.
        context_threshold: the same with the agent's line as context (chosen apart at training
            time: in context the model is surer, and a higher bar lets more nods through); the
            model's when None, or ``threshold`` when only that is given.
    """

    def __init__(
        self,
        config: SoftAckConfig | None = None,
        classifier: OnnxClassifier | None | bool = None,
        *,
        threshold: float | None = None,
        context_threshold: float | None = None,
    ) -> None:
        # A keyword verdict also reports the first keyword of fixed intent in the text, with no
        # second pass over it ("no stop": STOP_REQUEST).
        self._rules = RuleMatcher(config if config is not None else SoftAckConfig.from_env(), KEYWORD_INTENTS)
        if classifier is None or classifier is True:
            classifier = OnnxClassifier()
        self.classifier: OnnxClassifier | None = classifier or None
        self.threshold = threshold if threshold is not None else (
            self.classifier.threshold if self.classifier is not None else 0.5
        )
        if context_threshold is None:
            context_threshold = (
                threshold if threshold is not None or self.classifier is None
                else getattr(self.classifier, "context_threshold", self.threshold)
            )
        self.context_threshold: float = context_threshold
        self._model_failed_logged = False
        self._model_failures = 0
        # Interim words that only begin a common backchannel ("of" of "of course"): the model's
        # interruption on them waits for the next interim. Shipped with the model (its data).
        self._interim_prefixes: frozenset[str] = (
            getattr(self.classifier, "interim_prefixes", frozenset()) if self.classifier is not None else frozenset()
        )

    @property
    def config(self) -> SoftAckConfig:
        return self._rules.config

    def update_options(
        self,
        *,
        config: SoftAckConfig | None = None,
        threshold: float | None = None,
        context_threshold: float | None = None,
    ) -> None:
        """Change settings on a live filter (takes effect from the next decision)."""
        if config is not None:
            self._rules = RuleMatcher(config, KEYWORD_INTENTS)
        if threshold is not None:
            self.threshold = threshold
            if context_threshold is None:
                self.context_threshold = threshold
        if context_threshold is not None:
            self.context_threshold = context_threshold

    def reload_config(self, **from_env_kwargs: object) -> SoftAckConfig:
        """Re-read ``LIVEKIT_SOFT_ACKS`` / ``LIVEKIT_INTERRUPT_KEYWORDS`` (environment and ``.env``)."""
        config = SoftAckConfig.from_env(**from_env_kwargs)  # type: ignore[arg-type]
        self.update_options(config=config)
        return config

    @staticmethod
    def context(said: str = "", unsaid: str = "") -> AgentContext:
        """The agent's line split where the caller began to speak; build it once per utterance and
        pass it to every ``decide`` on that utterance (its features are computed here, once)."""
        return AgentContext(said, unsaid)

    @property
    def model_failures(self) -> int:
        """How many decisions fell back to interrupting because the model raised."""
        return self._model_failures

    def decide(
        self,
        text: str,
        agent_state: str = "speaking",
        *,
        final: bool = False,
        context: AgentContext | None = None,
    ) -> Decision:
        """Decide what the agent should do about ``text``.

        Args:
            text: the transcript so far (interim or final), as the STT wrote it.
            agent_state: LiveKit's agent state: "speaking" and "thinking" are filtered; any other
                state passes the speech through as a normal turn.
            final: True for a final transcript; an ignore of a partial one is provisional.
            context: the agent's current line, split where the caller began to speak
                (``BackchannelFilter.context(said, unsaid)``); None judges the words alone.

        Returns:
            The ``Decision``. Never raises for any ``str``.
        """
        if not isinstance(text, str):
            text = str(text)
        if context is not None and not isinstance(context, AgentContext):
            context = None
        if not logger.isEnabledFor(logging.DEBUG):
            return self._decide(text, agent_state, final, context)
        started = time.perf_counter()
        decision = self._decide(text, agent_state, final, context)
        logger.debug(
            "decision %s reason=%s intent=%s score=%s provisional=%s cue=%s took=%.1fus text=%r",
            decision.action.value,
            decision.reason.value,
            decision.intent.value,
            "-" if decision.score is None else f"{decision.score:.3f}",
            decision.provisional,
            context.cue if context is not None else Cue.NONE,
            (time.perf_counter() - started) * 1e6,
            decision.text[:80],
        )
        return decision

    def _decide(self, text: str, agent_state: str, final: bool, context: AgentContext | None) -> Decision:
        # The frequent outcomes build their Decision with positional fields (action, reason, text,
        # score, provisional, keyword, intent, context): keyword arguments cost twice as much.
        rules = self._rules
        normalized, words, present = normalize_marked(text, rules.marks)
        if agent_state not in FILTERED_AGENT_STATES:
            return Decision(Action.PASS_THROUGH, Reason.AGENT_SILENT, normalized, intent=Intent.TAKES_TURN,
                            context=context)
        if not normalized:
            if has_word_characters(text):
                return Decision(Action.INTERRUPT, Reason.UNRECOGNISED, normalized, intent=Intent.TAKES_TURN,
                                context=context)
            return Decision(Action.WAIT, Reason.EMPTY, normalized, context=context)
        rule = rules.match(words, normalized, present)
        if rule.verdict is RuleVerdict.KEYWORD:
            # The deployer's keywords always interrupt; the model, when there is one, only names why.
            # a keyword of fixed intent, or the first one in the text ("no stop"); else the model's
            named = rule.named
            intent = KEYWORD_INTENTS[named] if named is not None else self._model_intent(normalized, context)
            return Decision(Action.INTERRUPT, Reason.KEYWORD, normalized, None, False, rule.matched, intent, context)
        asked = context is not None and context.cue == Cue.QUESTION
        if rule.verdict is RuleVerdict.SOFT_ACK and not asked:
            return Decision(Action.IGNORE, Reason.SOFT_ACK, normalized, None, not final, None, Intent.BACKCHANNEL,
                            context)
        if rule.verdict is RuleVerdict.PARTIAL and not final:
            # the next interim tells "i see" from "i want": wait for it rather than judge "i"
            return Decision(Action.WAIT, Reason.PARTIAL, normalized, context=context)
        # Soft-acks right after the agent's question may be answers: the model reads them in context.
        if self.classifier is None:
            if rule.verdict is RuleVerdict.SOFT_ACK:
                return Decision(Action.INTERRUPT, Reason.FALLBACK, normalized, intent=Intent.ANSWER, context=context)
            return Decision(Action.INTERRUPT, Reason.FALLBACK, normalized, intent=Intent.TAKES_TURN, context=context)
        try:
            score, model_intent = self.classifier.predict(normalized, context)
        except Exception:
            self._model_failures += 1
            if not self._model_failed_logged:
                logger.exception("softack model failed; undecided speech interrupts until it recovers")
                self._model_failed_logged = True
            return Decision(Action.INTERRUPT, Reason.FALLBACK, normalized, intent=Intent.TAKES_TURN, context=context)
        threshold = self.context_threshold if context is not None and not context.empty else self.threshold
        if score >= threshold:
            if not final and normalized in self._interim_prefixes:
                # "of" (of "of course"), "all" (of "all right"): the start of a nod is no evidence yet
                return Decision(Action.WAIT, Reason.PARTIAL, normalized, score=score, context=context)
            intent = _INTENT_BY_NAME.get(model_intent, Intent.TAKES_TURN)  # type: ignore[arg-type]
            return Decision(Action.INTERRUPT, Reason.MODEL, normalized, score, False, None, intent, context)
        return Decision(Action.IGNORE, Reason.MODEL, normalized, score, not final, None, Intent.BACKCHANNEL, context)

    def _model_intent(self, normalized: str, context: AgentContext | None) -> Intent:
        """The model's intent for an utterance the rules already made an interruption."""
        if self.classifier is None or not getattr(self.classifier, "intents", ()):
            return Intent.TAKES_TURN
        try:
            _, intent = self.classifier.predict(normalized, context)
        except Exception:
            self._model_failures += 1
            return Intent.TAKES_TURN
        return _INTENT_BY_NAME.get(intent, Intent.TAKES_TURN)  # type: ignore[arg-type]


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


def decide(
    text: str, agent_state: str = "speaking", *, final: bool = False, context: AgentContext | None = None
) -> Decision:
    """``BackchannelFilter.decide`` on ``default_filter()``."""
    return default_filter().decide(text, agent_state, final=final, context=context)
