"""An LLM with canned replies that records the chat context of every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr, llm, utils


@dataclass(frozen=True)
class LLMCall:
    """One request the scripted LLM received."""

    at: float
    chat_ctx: llm.ChatContext
    user_text: str  # the last user message ("" when there is none)
    reply: str


class ScriptedLLM(llm.LLM):
    """Canned replies, streamed a word at a time; every request is recorded in ``calls``.

    Args:
        replies: the reply to give: a mapping from a phrase (matched case-insensitively inside the
            last user message) to a reply, or a function of the last user message. Falls back to
            ``default_reply``.
        default_reply: the reply when nothing matches.
        ttft: seconds before the first word.
    """

    def __init__(
        self,
        replies: Mapping[str, str] | Callable[[str], str] | None = None,
        *,
        default_reply: str = "Sure, here is my answer.",
        ttft: float = 0.1,
    ) -> None:
        super().__init__()
        self.replies = replies
        self.default_reply = default_reply
        self.ttft = ttft
        self.calls: list[LLMCall] = []

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "softack.testing"

    def reply_for(self, user_text: str) -> str:
        if callable(self.replies):
            return self.replies(user_text)
        for phrase, reply in (self.replies or {}).items():
            if phrase.lower() in user_text.lower():
                return reply
        return self.default_reply

    @property
    def user_texts(self) -> list[str]:
        return [c.user_text for c in self.calls]

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _ScriptedLLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ScriptedLLMStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._scripted = scripted

    async def _run(self) -> None:
        user_text = ""
        for item in reversed(self.chat_ctx.items):
            if item.type == "message" and item.role == "user":
                user_text = item.text_content or ""
                break
        reply = self._scripted.reply_for(user_text)
        self._scripted.calls.append(LLMCall(time.time(), self.chat_ctx.copy(), user_text, reply))
        await asyncio.sleep(self._scripted.ttft)
        request_id = utils.shortuuid("scripted_llm_")
        for i, word in enumerate(reply.split(" ")):
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(role="assistant", content=word if i == 0 else " " + word),
                )
            )
            await asyncio.sleep(0.005)
