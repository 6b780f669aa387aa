"""Bad input never breaks a decision: odd text, huge text, arbitrary strings (property-based)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softack import Action, Reason, SoftAckConfig, normalize
from softack.normalize import has_word_characters

# `make fuzz` raises this for a longer run; `make test` keeps it small.
FUZZ_EXAMPLES = int(os.environ.get("SOFTACK_FUZZ_EXAMPLES", "300"))
STATES = ("speaking", "thinking", "listening", "initializing", "", "SPEAKING", "unknown")

MODEL = None  # the model decides: ignore or interrupt, by its score against the threshold
E, U, K, S = Reason.EMPTY, Reason.UNRECOGNISED, Reason.KEYWORD, Reason.SOFT_ACK
# Odd text heard while the agent speaks, and the reason it must be decided for: no words waits,
# words in a script the model cannot read interrupt, lists still apply through any disguise.
ODD_TEXTS = [
    ("", E),
    (" \t\r\n ", E),
    ("x" * 100_000, MODEL),
    (("yeah " * 20_000).strip(), S),
    (("no stop " * 10_000).strip(), K),
    ("\x00\x01\x02\x1b[31myeah\x1b[0m", MODEL),  # terminal escapes around a soft-ack
    ("\U0001f600\U0001f44d\U0001f3fd", E),
    ("\u05db\u05df \u05d1\u05e1\u05d3\u05e8", U),  # Hebrew, right-to-left
    ("\u0646\u0639\u0645 \u062d\u0633\u0646\u0627", U),  # Arabic
    ("\u597d\u7684\u597d\u7684", U),  # CJK
    ("\u202eyeah\u202c", S),  # right-to-left override around a soft-ack
    ("yeah\u200b\u200bokay", MODEL),  # zero-width spaces join the words: "yeahokay"
    ("\ufeffokay", S),  # byte-order mark
    ("1234567890 4471 3.14 $20", MODEL),
    ("okay okay okay okay okay okay okay okay okay okay", S),
    ("?!?!...,,,;;;---", E),
    ("\udcff\udcfe yeah", S),  # lone surrogates, as surrogateescape decoding leaves them
    ("Y\u0301E\u0302A\u0303H", S),  # combining marks
    ("\uff59\uff45\uff41\uff48", S),  # full-width letters
]


@pytest.mark.parametrize(("text", "reason"), ODD_TEXTS, ids=range(len(ODD_TEXTS)))
@pytest.mark.parametrize("final", [True, False], ids=["final", "interim"])
def test_odd_text_over_the_agent_gets_a_safe_decision(make_filter, text, reason, final):
    filt = make_filter()
    d = filt.decide(text, "speaking", final=final)
    if reason is MODEL:
        assert d.reason is Reason.MODEL and d.score is not None, d
        assert d.action is (Action.INTERRUPT if d.score >= filt.threshold else Action.IGNORE), d
    else:
        assert d.reason is reason, d
        assert d.score is None, d
    # the only safe action for each reason: never pass a turn through while the agent speaks,
    # wait only when there is nothing to judge, never drop words the model cannot read
    if d.reason is Reason.EMPTY:
        assert d.action is Action.WAIT and d.text == ""
    elif d.reason in (Reason.UNRECOGNISED, Reason.KEYWORD):
        assert d.action is Action.INTERRUPT and not d.provisional
        assert (d.keyword is not None) == (d.reason is Reason.KEYWORD)
    elif d.reason is Reason.SOFT_ACK:
        assert d.action is Action.IGNORE
    if d.action is Action.IGNORE:
        assert d.provisional == (not final), "an ignore is provisional until the final transcript"


def test_folded_forms_are_recognised(make_filter):
    filt = make_filter()
    assert filt.decide("\uff59\uff45\uff41\uff48", "speaking").reason is Reason.SOFT_ACK  # full-width "yeah"
    assert filt.decide("yeah\u200b\u200bokay", "speaking").action is Action.IGNORE
    assert filt.decide(("no stop " * 10_000).strip(), "speaking").reason is Reason.KEYWORD


def test_a_keyword_deep_in_a_long_transcript_still_interrupts(make_filter):
    text = "yeah " * 5000 + "wait"
    assert make_filter().decide(text, "speaking").reason is Reason.KEYWORD


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_normalize_properties(text):
    out = normalize(text)
    assert out == out.strip() and "  " not in out
    assert all(c.isascii() and (c.isalnum() or c in " '") for c in out)
    assert normalize(out) == out  # idempotent
    if out:
        assert has_word_characters(text)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400), state=st.sampled_from(STATES), final=st.booleans())
def test_decide_never_raises_and_is_consistent(make_filter, text, state, final):
    d = make_filter().decide(text, state, final=final)
    if state not in ("speaking", "thinking"):
        assert d.action is Action.PASS_THROUGH
    elif d.action is Action.WAIT:
        if d.reason is Reason.PARTIAL:
            assert not final
        else:
            assert d.reason is Reason.EMPTY and not has_word_characters(text)
    elif d.action is Action.INTERRUPT:
        assert not d.provisional
    elif d.action is Action.IGNORE:
        assert d.provisional == (not final)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(st.sampled_from(["yeah", "okay", "uh-huh", "mm hmm", "right", "ok", "hmm", "Yeah,", "OKAY."]), min_size=1, max_size=12),
    keyword=st.sampled_from(["but", "wait", "no", "stop", "hold on", "hang on"]),
    position=st.integers(min_value=0, max_value=12),
)
def test_soft_acks_alone_ignore_and_any_keyword_interrupts(make_filter, words, keyword, position):
    filt = make_filter()
    assert filt.decide(" ".join(words), "speaking").reason is Reason.SOFT_ACK
    mixed = words[:position] + [keyword] + words[position:]
    d = filt.decide(" ".join(mixed), "speaking")
    assert (d.action, d.reason) == (Action.INTERRUPT, Reason.KEYWORD)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.text(max_size=300))
def test_any_configured_list_parses_or_falls_back(raw):
    config = SoftAckConfig.from_env({"LIVEKIT_SOFT_ACKS": raw, "LIVEKIT_INTERRUPT_KEYWORDS": raw}, use_dotenv=False)
    assert config.keywords  # never empty: a bad value keeps the defaults
    assert not (config.soft_acks & config.keywords)


def test_soft_acks_env_edge_cases(caplog):
    def parse(value):
        caplog.clear()
        with caplog.at_level("WARNING", logger="softack"):
            return SoftAckConfig.from_env({"LIVEKIT_SOFT_ACKS": value}, use_dotenv=False).soft_acks

    def warnings():
        return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]

    assert parse(" yeah , yeah,YEAH ") == {"yeah"}  # spaces, duplicates, case
    assert not warnings()
    assert parse("yeah,stop") == {"yeah"}  # a keyword cannot be a soft-ack
    assert any("'stop'" in w and "keyword" in w for w in warnings()), warnings()
    assert parse("yeah," * 10_000) == {"yeah"}  # very long but one entry
    assert not warnings()
