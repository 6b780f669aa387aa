"""The decision engine: rules, model and agent state, at the decision level."""

import pytest

from softack import Action, BackchannelFilter, Intent, Reason, SoftAckConfig

from .heldout import heldout

# Model examples: held-out rows of data/ (the model never trained on them), by their label.
MODEL_INTERRUPTS = [
    "what's the price of the blue one", "sorry, can I ask something", "are there any earlier flights",
    "Does it have a lifetime warranty?", "just the short version please", "Mastercard ending in 2210.",
]  # fmt: skip
MODEL_IGNORES = [
    "oh wow", "that sounds fun", "Oh neat", "ah interesting", "That makes perfect sense.",
    "oh that's smart", "yeah that's hard",
]  # fmt: skip


# The four scenarios of the original design.
@pytest.mark.parametrize("text", ["i see", "got it", "Oh, okay.", "yes yes", "sure", "mm-hmm", "Uh-huh, yep."])
def test_policy_continuers_and_acknowledgements_are_rule_decided(make_filter, text):
    d = make_filter().decide(text, "speaking", final=True)
    assert (d.action, d.reason) == (Action.IGNORE, Reason.SOFT_ACK), d


def test_speaking_and_soft_acks_are_ignored(make_filter):
    d = make_filter().decide("okay yeah uh-huh", "speaking", final=True)
    assert (d.action, d.reason) == (Action.IGNORE, Reason.SOFT_ACK)
    assert d.score is None  # the model was not needed


def test_silent_agent_passes_yeah_through(make_filter):
    for state in ("listening", "initializing"):
        d = make_filter().decide("yeah", state, final=True)
        assert (d.action, d.reason) == (Action.PASS_THROUGH, Reason.AGENT_SILENT)


def test_speaking_and_no_stop_interrupts(make_filter):
    d = make_filter().decide("no stop", "speaking")
    assert (d.action, d.reason) == (Action.INTERRUPT, Reason.KEYWORD)
    assert not d.provisional


def test_keywords_win_over_soft_acks(make_filter):
    d = make_filter().decide("yeah okay but wait", "speaking")
    assert (d.action, d.reason, d.keyword) == (Action.INTERRUPT, Reason.KEYWORD, "but")


def test_thinking_is_filtered_like_speaking(make_filter):
    assert make_filter().decide("uh huh", "thinking").action is Action.IGNORE
    assert make_filter().decide("wait", "thinking").action is Action.INTERRUPT


def test_partial_ignore_is_provisional_final_is_not(make_filter):
    filt = make_filter()
    assert filt.decide("yeah", "speaking", final=False).provisional
    assert not filt.decide("yeah", "speaking", final=True).provisional


def test_streaming_interims_turn_into_an_interruption(make_filter):
    filt = make_filter()
    actions = [filt.decide(t, "speaking").action for t in ("yeah", "yeah okay", "yeah okay but", "yeah okay but wait")]
    assert actions == [Action.IGNORE, Action.IGNORE, Action.INTERRUPT, Action.INTERRUPT]


def test_empty_text_waits(make_filter):
    for text in ("", "   ", "...", "\U0001f642"):
        d = make_filter().decide(text, "speaking")
        assert (d.action, d.reason) == (Action.WAIT, Reason.EMPTY), text


def test_unreadable_script_interrupts_rather_than_dropping(make_filter):
    d = make_filter().decide("\u4f60\u597d\uff0c\u7b49\u4e00\u4e0b", "speaking")
    assert (d.action, d.reason) == (Action.INTERRUPT, Reason.UNRECOGNISED)


@pytest.mark.parametrize("text", MODEL_INTERRUPTS)
def test_model_interrupts_on_substance(make_filter, text):
    d = make_filter().decide(heldout(text, "interrupt"), "speaking", final=True)
    assert d.action is Action.INTERRUPT and d.reason is Reason.MODEL
    assert d.score is not None and d.score >= make_filter().threshold


@pytest.mark.parametrize("text", MODEL_IGNORES)
def test_model_ignores_backchannels_outside_the_list(make_filter, text):
    d = make_filter().decide(heldout(text, "ignore"), "speaking", final=True)
    assert (d.action, d.reason) == (Action.IGNORE, Reason.MODEL), (text, d)
    assert d.score is not None and d.score < make_filter().threshold


def test_phrase_soft_ack_beats_its_own_keyword_but_not_a_bare_keyword(classifier):
    filt = BackchannelFilter(SoftAckConfig(soft_acks={"yeah", "no way"}), classifier)
    assert filt.decide("no way", "speaking").reason is Reason.SOFT_ACK
    assert filt.decide("yeah no way", "speaking").reason is Reason.SOFT_ACK
    assert filt.decide("no", "speaking").reason is Reason.KEYWORD
    assert filt.decide("no way but", "speaking").reason is Reason.KEYWORD


def test_no_way_is_a_default_backchannel_but_no_is_still_a_keyword(make_filter):
    # the policy's backchannel question, on the default list
    filt = make_filter()
    for text in ("No way!", "oh no way", "yeah no way"):
        assert filt.decide(text, "speaking", final=True).action is Action.IGNORE, text
    assert filt.decide("no", "speaking").reason is Reason.KEYWORD  # an interim "no" stops at once
    assert filt.decide("no way, I'm not paying that", "speaking", final=True).action is Action.INTERRUPT


@pytest.mark.parametrize("text", ["Huh-uh.", "nuh-uh", "huh uh, the other card"])
def test_negative_huh_uh_is_a_default_keyword(make_filter, text):
    d = make_filter().decide(text, "speaking")
    assert (d.action, d.reason) == (Action.INTERRUPT, Reason.KEYWORD), d


@pytest.mark.parametrize("text", ["Uh-huh.", "uh huh uh huh", "mm-hmm uh-huh"])
def test_uh_huh_is_still_a_nod_beside_the_negative_keyword(make_filter, text):
    d = make_filter().decide(text, "speaking", final=True)
    assert (d.action, d.reason) == (Action.IGNORE, Reason.SOFT_ACK), d


def test_multiword_keywords_match_only_as_phrases(make_filter):
    filt = make_filter()
    assert filt.decide("hold on", "speaking").keyword == "hold on"
    assert filt.decide("okay hang on a sec", "speaking").keyword == "hang on"
    assert filt.decide("one", "speaking").reason is not Reason.KEYWORD


def test_rules_only_filter_interrupts_what_it_cannot_decide():
    filt = BackchannelFilter(SoftAckConfig(), classifier=False)
    assert filt.decide("yeah", "speaking").action is Action.IGNORE
    d = filt.decide(heldout("oh wow", "ignore"), "speaking")
    assert (d.action, d.reason) == (Action.INTERRUPT, Reason.FALLBACK)


def test_model_failure_falls_back_to_interrupt_and_logs_once(classifier, caplog):
    class Broken:
        threshold = 0.5

        def predict(self, text, context=None):
            raise RuntimeError("boom")

    filt = BackchannelFilter(SoftAckConfig(), Broken())
    with caplog.at_level("ERROR", logger="softack"):
        first = filt.decide("oh wow", "speaking")
        second = filt.decide("that's great", "speaking")
    assert first.reason is Reason.FALLBACK and second.action is Action.INTERRUPT
    assert sum("model failed" in r.getMessage() for r in caplog.records) == 1
    # Logged once, but every failure is counted, so a monitor can see the model is down.
    assert filt.model_failures == 2
    # Rules still work while the model is broken.
    assert filt.decide("yeah", "speaking").action is Action.IGNORE


def test_a_class_name_softack_does_not_know_is_a_turn_not_a_crash():
    # a model trained elsewhere may name intents this version lacks: still an interruption
    class Foreign:
        threshold = 0.5
        intents = ("BACKCHANNEL", "COMPLAINT")

        def predict(self, text, context=None):
            return 0.9, "COMPLAINT"

    filt = BackchannelFilter(SoftAckConfig(), Foreign())
    d = filt.decide("this is the third time i call", "speaking", final=True)
    assert (d.action, d.reason, d.intent) == (Action.INTERRUPT, Reason.MODEL, Intent.TAKES_TURN)
    d = filt.decide("no the bill is wrong", "speaking", final=True)  # a keyword with no fixed intent
    assert (d.action, d.reason, d.intent) == (Action.INTERRUPT, Reason.KEYWORD, Intent.TAKES_TURN)


def test_update_options_on_a_live_filter(make_filter):
    filt = make_filter()
    filt.update_options(config=SoftAckConfig(soft_acks={"roger"}))
    assert filt.decide("roger", "speaking").reason is Reason.SOFT_ACK
    text = heldout("just the short version please", "interrupt")
    assert filt.decide(text, "speaking").action is Action.INTERRUPT
    filt.update_options(threshold=0.999999)
    assert filt.decide(text, "speaking").action is Action.IGNORE


def test_one_debug_line_per_decision_with_reason_score_and_time(make_filter, caplog):
    filt = make_filter()
    with caplog.at_level("DEBUG", logger="softack"):
        filt.decide(heldout("what's the price of the blue one", "interrupt"), "speaking")
        filt.decide("yeah", "speaking")
    lines = [r.getMessage() for r in caplog.records if r.name == "softack"]
    assert len(lines) == 2
    assert "reason=model" in lines[0] and "score=0." in lines[0] and "took=" in lines[0]
    assert "reason=soft_ack" in lines[1] and "score=-" in lines[1]


def test_interim_that_begins_a_soft_ack_phrase_waits_for_more_words(make_filter):
    filt = make_filter()
    for text in ("i", "yeah i", "okay got"):
        d = filt.decide(text, "speaking", final=False)
        assert (d.action, d.reason) == (Action.WAIT, Reason.PARTIAL), text
    # the next interim decides
    assert filt.decide("i see", "speaking").action is Action.IGNORE
    assert filt.decide(heldout("i want the blue one", "interrupt"), "speaking").action is Action.INTERRUPT
    assert filt.decide("i but", "speaking").reason is Reason.KEYWORD
    # a final is never left waiting: "i" that trails off is judged by the model
    d = filt.decide("i", "speaking", final=True)
    assert d.reason is Reason.MODEL


def test_the_heldout_helper_refuses_training_rows_and_unknown_text():
    assert heldout("oh wow", "ignore") == "oh wow"
    for text, label in [("cool", "ignore"), ("tell me more about the fees", "interrupt"), ("oh wow", "interrupt")]:
        with pytest.raises(AssertionError):
            heldout(text, label)
