"""The agent's own words, as the decision reads them.

The same caller words mean different things after different agent lines: "yes" right after "Shall
I book it?" answers the agent (stop and listen); "yes" while the agent explains a refund is a nod.
``AgentContext`` holds the two halves of the agent's current line at the moment the caller began
to speak: ``said`` (what they had heard) and ``unsaid`` (the rest, not yet played).

The model is linear, so it cannot learn "yes after a question" from separate bags of caller and
agent words. Instead the caller's words are fed twice: once as they are (shared by every context)
and once *conjoined* with a cue read from the end of ``said`` (a question just heard, a statement
going on, no context). Each copy is written in its own alphabet, so the character n-grams of one
copy never meet those of another and the model learns a separate weight for "yes" after a question.
The agent's last heard words and the first unsaid words are added, each in its own alphabet too,
as a bias (closings, "Well, the way it works…" after a question the agent answers itself).

Everything that depends only on the agent's line is computed once per line, in ``AgentContext``,
and reused for every interim transcript of the caller. Pure: no I/O, no framework import; training
and the runtime build the model input with the same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .normalize import normalize_words

__all__ = ["AgentContext", "Cue", "NO_CONTEXT", "answers_itself", "conjoined", "heard_question"]

# Words of the agent's line the model reads: the end of what was heard, the start of what was not.
SAID_TAIL_WORDS = 8
UNSAID_HEAD_WORDS = 5
# A question still counts as "just heard" when the caller starts this many words into the next
# sentence: paced transcripts run a word or two ahead of the caller's reaction.
QUESTION_GRACE_WORDS = 2


class Cue:
    """What the end of ``said`` tells about the caller's next words (plain strings: cheap to compare)."""

    NONE = "none"  # no context: the caller's words alone decide
    QUESTION = "question"  # the caller just heard a question: a soft-ack may be an answer
    STATEMENT = "statement"  # explaining, listing, reading back, closing, or answering its own question


# Normalised text uses only a-z, 0-9, apostrophe and space. Each copy of the model input maps those
# 37 characters into its own Unicode block (spaces stay spaces), so character n-grams of different
# copies never collide. onnxruntime's tokenizer reads UTF-8 code points like scikit-learn: the
# parity test checks it on every training row.
_SOURCE = "abcdefghijklmnopqrstuvwxyz0123456789'"


def _alphabet(base: int) -> dict[int, int]:
    return {ord(c): base + i for i, c in enumerate(_SOURCE)}


_CUE_ALPHABETS = {
    Cue.NONE: _alphabet(0x0400),  # Cyrillic block
    Cue.QUESTION: _alphabet(0x05D0),  # Hebrew letters, then following code points
    Cue.STATEMENT: _alphabet(0x0620),  # Arabic block
}
_SAID_ALPHABET = _alphabet(0x0E01)  # Thai block
_UNSAID_ALPHABET = _alphabet(0x10A0)  # Georgian block

_SENTENCE_END = re.compile(r"[.!]")
# How an agent that asks and answers its own question goes on ("Why does the fee apply? Well, the
# way it works is..."; "Do you need to fast? Yes, for eight hours."): a nod there answers nothing.
# Read from the first words after the question mark, heard or not yet played.
_SELF_ANSWER = re.compile(
    r"(?:(?:yes|yeah|yep|no|nope|well|sure)[,.;:!]"  # "Yes, for eight hours" (not "No pressure")
    r"|(?:usually|mainly|mostly|basically|simply|typically|generally|normally|because|it depends|the answer"
    r"|the short answer|short answer|in short|good question|great question"
    r"|not (?:anymore|really|always|usually|necessarily|at all|yet)"
    r"|(?:it|that) means)\b"
    r"|(?:it|there|they|that|this) (?:is|are|does|do|will|isn't|aren't|doesn't|don't|won't)[,.;:!])",  # "It is, ..."
    re.IGNORECASE,
)


def heard_question(said: str) -> bool:
    """True when ``said`` ends with a question, or at most ``QUESTION_GRACE_WORDS`` words after one."""
    end = said.rstrip(" \t\n\"'\u201d\u2019)")
    mark = end.rfind("?")
    if mark < 0:
        return False
    after = end[mark + 1 :]
    return not _SENTENCE_END.search(after) and len(after.split()) <= QUESTION_GRACE_WORDS


# A "why" question the agent goes on talking after is one it answers itself, however the answer
# opens ("Why does it need a signature? The carrier requires..."): a caller is not asked "why" and
# then talked over, and a nod cannot answer it. A suggestion ("why don't we...", "why not...") can
# be accepted, so it is not one of these.
_WHY_QUESTION = re.compile(
    r"(?:(?:so|and|but|now|okay|ok|well)\b[ ,]*)?(?:why|how come)\b(?!\s+(?:not|don't|dont|wouldn't|won't|can't)\b)",
    re.IGNORECASE,
)
_SENTENCE_START = re.compile(r"(?<=[.!?])\s+")


def answers_itself(said: str, unsaid: str) -> bool:
    """True when the words right after the last question of ``said`` answer it (the agent's own
    answer), or the question asks "why" and the agent's line goes on after it."""
    mark = said.rfind("?")
    after = said[mark + 1 :].strip() + " " + unsaid[:80].strip() + " "
    if _SELF_ANSWER.match(after.lstrip()) is not None:
        return True
    if not after.strip():  # the line ended at the question: the caller is asked
        return False
    question = _SENTENCE_START.split(said[max(0, mark - 300) : mark + 1].strip())[-1]
    return _WHY_QUESTION.match(question) is not None


@dataclass(frozen=True, slots=True)
class AgentContext:
    """The agent's current line, split where the caller began to speak.

    Build one per agent line and per caller utterance (``BackchannelFilter.context`` or this
    constructor) and pass it to every decision on that utterance: the cue and the agent's words
    as the model reads them are computed here, once.

    Args:
        said: the part of the agent's line the caller had heard when they began to speak.
        unsaid: the rest of that line, not yet played.
    """

    said: str = ""
    unsaid: str = ""
    cue: str = field(init=False, default=Cue.NONE)
    features: str = field(init=False, default="", repr=False)

    def __post_init__(self) -> None:
        said = self.said if isinstance(self.said, str) else str(self.said)
        unsaid = self.unsaid if isinstance(self.unsaid, str) else str(self.unsaid)
        object.__setattr__(self, "said", said)
        object.__setattr__(self, "unsaid", unsaid)
        said_words = normalize_words(said)
        unsaid_words = normalize_words(unsaid[:400])[:UNSAID_HEAD_WORDS]
        if not said_words:
            cue = Cue.NONE
        elif heard_question(said) and not answers_itself(said, unsaid):
            cue = Cue.QUESTION
        else:
            cue = Cue.STATEMENT
        object.__setattr__(self, "cue", cue)
        if said_words or unsaid_words:
            tail = " ".join(["xxs", *said_words[-SAID_TAIL_WORDS:], "xxe"])
            head = " ".join(["xxb", *unsaid_words, "xxe"])
            features = f"{tail.translate(_SAID_ALPHABET)} {head.translate(_UNSAID_ALPHABET)}"
        else:
            features = ""
        object.__setattr__(self, "features", features)

    @property
    def empty(self) -> bool:
        return not self.features


NO_CONTEXT = AgentContext()


def conjoined(bounded_caller: str, context: AgentContext | None) -> str:
    """The model's view of a caller utterance in its context (see the module docstring).

    Args:
        bounded_caller: the caller's normalised words between boundary markers (``model_input``).
        context: the agent's line, or None for the caller's words alone.
    """
    ctx = context if context is not None else NO_CONTEXT
    copy = bounded_caller.translate(_CUE_ALPHABETS[ctx.cue])
    if ctx.features:
        return f"{bounded_caller} {copy} {ctx.features}"
    return f"{bounded_caller} {copy}"
