"""The rules' fast path (set lookups) gives the answer of the reference scan, on any list and words."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from softack import SoftAckConfig
from softack.rules import RuleMatcher, RuleVerdict

FUZZ_EXAMPLES = int(os.environ.get("SOFTACK_FUZZ_EXAMPLES", "300"))
# with words that begin or end like others ("nope", "not", "waiting"): phrases are found as whole words
VOCAB = ["yeah", "okay", "no", "way", "hold", "on", "i", "see", "got", "it", "but", "wait", "foo", "nope", "not", "waiting"]
phrases = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(" ".join)


@settings(max_examples=FUZZ_EXAMPLES * 3, deadline=None)
@given(
    soft=st.sets(phrases, min_size=1, max_size=6),
    keywords=st.sets(phrases, min_size=1, max_size=6),
    words=st.lists(st.sampled_from(VOCAB), max_size=12),
)
def test_fast_path_matches_the_scan_on_any_lists(soft, keywords, words):
    matcher = RuleMatcher(SoftAckConfig(soft_acks=soft, keywords=keywords))
    assert matcher.match(words) == matcher.match(words, " ".join(words)) == matcher._scan(words)


DEFAULT = RuleMatcher(SoftAckConfig())


@settings(max_examples=FUZZ_EXAMPLES * 3, deadline=None)
@given(words=st.lists(st.sampled_from(VOCAB + ["hang", "one", "sec", "uhhuh", "mhm", "gotcha"]), max_size=30))
def test_fast_path_matches_the_scan_on_the_default_lists(words):
    matcher = DEFAULT
    assert matcher.match(words) == matcher._scan(words)


def test_a_soft_ack_phrase_that_hides_a_keyword_is_still_scanned():
    # "no way" is a soft-ack here, so the "no" inside it is not the keyword "no" (longest match)
    matcher = RuleMatcher(SoftAckConfig(soft_acks={"yeah", "no way"}))
    assert matcher.match("yeah no way".split()).verdict is RuleVerdict.SOFT_ACK
    assert matcher.match("no way no".split())[:2] == (RuleVerdict.KEYWORD, "no")


def test_the_first_keyword_is_reported_and_the_longest_at_its_position():
    matcher = RuleMatcher(SoftAckConfig(keywords={"hold", "hold on", "wait"}))
    assert matcher.match("so wait hold on".split()).matched == "wait"
    assert matcher.match("okay hold on wait".split()).matched == "hold on"
    assert matcher.match("okay hold it wait".split()).matched == "hold"


def test_a_thousand_words_are_undecided_and_a_keyword_at_the_end_is_found():
    matcher = RuleMatcher(SoftAckConfig())
    words = ["price"] * 1000
    assert matcher.match(words).verdict is RuleVerdict.UNDECIDED
    assert matcher.match(words + ["hold", "on"]).matched == "hold on"
