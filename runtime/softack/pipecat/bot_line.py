"""The bot's current line and what of it the user has heard: the context of softack's decisions.

Where the bot's words are in a Pipecat 1.14 pipeline
(``transport.input() -> stt -> user aggregator -> llm -> tts -> transport.output() -> assistant aggregator``):

- the line, before it is spoken: ``LLMFullResponseStartFrame``, then ``LLMTextFrame``s, pushed
  downstream by the LLM to the TTS (``TTSSpeakFrame`` for text spoken without the LLM);
- what has been played: ``TTSTextFrame``s pushed downstream by the output transport
  (``BaseOutputTransport``), in step with the audio: word by word for TTS services with word
  timestamps, a sentence at a time (once its audio has played) for the others.

None of those frames reaches the user aggregator, which sits before the LLM (only
``BotStartedSpeakingFrame`` / ``BotStoppedSpeakingFrame`` are pushed upstream to it). So
``BotLineObserver`` watches them as a pipeline observer: ``SoftAckUserTurnStartStrategy`` adds it
to its ``PipelineWorker`` when it is set up, with nothing for the bot to wire.

Every observed event keeps the pipeline clock time it was pushed at. The strategy asks for the
context *at the moment the user began to speak* (its VAD start), when the first transcript
arrives: the observer, which runs a queue hop behind the pipeline, has caught up by then, and what
was played after the user began is left out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pipecat.frames.frames import LLMFullResponseStartFrame, LLMTextFrame, TTSSpeakFrame, TTSTextFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_output import BaseOutputTransport

__all__ = ["BotLineObserver"]

_LINE, _TEXT, _HEARD = 0, 1, 2
# Events of the current and the previous line are kept (a user who began to speak just before a
# new line started still gets the old one); older ones are dropped, and a line is capped.
_MAX_EVENTS = 4000
# How far ahead in the line a heard word is looked for (TTS text may differ from the LLM's).
_LOOKAHEAD = 4
_WORD_KEY = re.compile(r"[^\w']+")


class _Event(NamedTuple):
    at: int  # pipeline clock, ns
    kind: int
    text: str = ""
    spaced: bool = False  # the text carries its own inter-word spaces (LLM tokens)


def _join(events: list[_Event]) -> str:
    out = ""
    for e in events:
        if e.spaced or not out:
            out += e.text
        else:
            out += " " + e.text
    return " ".join(out.split())


def _key(word: str) -> str:
    return _WORD_KEY.sub("", word.lower())


def _unsaid(line: str, said: str) -> str:
    """The part of ``line`` after the words of ``said`` (matched word by word, loosely: TTS text
    may differ from the LLM's). "" when ``said`` matches nothing of ``line`` (another line)."""
    tokens = line.split()
    if not said.strip():
        return " ".join(tokens)
    position = matched = 0
    for word in said.split():
        k = _key(word)
        if not k:
            continue
        for j in range(position, min(len(tokens), position + _LOOKAHEAD)):
            if _key(tokens[j]) == k:
                position, matched = j + 1, matched + 1
                break
    return " ".join(tokens[position:]) if matched else ""


class BotLineObserver(BaseObserver):
    """Follows the bot's current line (the LLM's reply) and what of it has been played.

    Added to the pipeline by ``SoftAckUserTurnStartStrategy``; ``context_at`` reads it. A line
    starts with each ``LLMFullResponseStartFrame`` or ``TTSSpeakFrame``, and when the user's turn
    starts (``new_line``): whatever the bot said before has been answered.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)  # every push: played text is the output transport's (later) push
        self._events: list[_Event] = []

    def new_line(self, at: int) -> None:
        """A new line starts at ``at`` (pipeline clock, ns); the one before it is kept, older ones go."""
        starts = [i for i, e in enumerate(self._events) if e.kind == _LINE]
        if starts:
            del self._events[: starts[-1]]
        self._events.append(_Event(at, _LINE))

    def _add(self, at: int, kind: int, text: str, spaced: bool) -> None:
        if not text:
            return
        if len(self._events) >= _MAX_EVENTS:
            starts = [i for i, e in enumerate(self._events) if e.kind == _LINE]
            if starts and starts[-1] > 0:
                del self._events[: starts[-1]]  # the previous line goes first
            if len(self._events) >= _MAX_EVENTS:
                del self._events[1 : len(self._events) // 2]  # one very long line: its oldest words
        self._events.append(_Event(at, kind, text, spaced))

    async def on_push_frame(self, data: FramePushed):
        frame = data.frame
        if data.direction != FrameDirection.DOWNSTREAM:
            return
        if isinstance(frame, TTSTextFrame):
            if isinstance(data.source, BaseOutputTransport):
                self._add(data.timestamp, _HEARD, frame.text, bool(frame.includes_inter_frame_spaces))
            return
        if not data.first_push:
            return
        if isinstance(frame, LLMFullResponseStartFrame):
            self.new_line(data.timestamp)
        elif isinstance(frame, LLMTextFrame):
            if not frame.skip_tts:
                self._add(data.timestamp, _TEXT, frame.text, bool(frame.includes_inter_frame_spaces))
        elif isinstance(frame, TTSSpeakFrame):
            self.new_line(data.timestamp)
            self._add(data.timestamp, _TEXT, frame.text, False)

    def context_at(self, at: int | None = None) -> tuple[str, str]:
        """The bot's line split where a user who began to speak at ``at`` was.

        Args:
            at: pipeline clock time (ns) the user began to speak; None for now.

        Returns:
            ``(said, unsaid)``: the played words of the line current at ``at``, up to ``at``, and
            the rest of that line's text (as far as the LLM has written it).
        """
        events = self._events
        start = 0
        for i, e in enumerate(events):
            if e.kind == _LINE and (at is None or e.at <= at):
                start = i + 1
        line: list[_Event] = []
        heard: list[_Event] = []
        for e in events[start:]:
            if e.kind == _LINE:
                break
            if e.kind == _TEXT:
                line.append(e)
            elif e.kind == _HEARD and (at is None or e.at <= at):
                heard.append(e)
        said = _join(heard)
        return said, _unsaid(_join(line), said)
