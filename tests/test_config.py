import logging

from softack import Action, BackchannelFilter, Reason, SoftAckConfig
from softack.config import DEFAULT_SOFT_ACKS, MAX_ENTRIES


def test_with_nothing_configured_the_original_list_is_ignored_and_its_keywords_interrupt(clean_env):
    filt = BackchannelFilter(SoftAckConfig.from_env(), classifier=False)
    # the original design's list, as an STT writes it
    for text in ("Okay.", "yeah", "Uh-huh", "OK", "hmm", "Right.", "mm-hmm", "i see", "got it"):
        assert filt.decide(text, "speaking", final=True)[:2] == (Action.IGNORE, Reason.SOFT_ACK), text
    for text in ("but", "Wait!", "no", "stop", "hold on", "never mind"):
        assert filt.decide(text, "speaking", final=True)[:2] == (Action.INTERRUPT, Reason.KEYWORD), text


def test_environment_replaces_the_list_and_is_normalised(clean_env, monkeypatch):
    monkeypatch.setenv("LIVEKIT_SOFT_ACKS", " Uh-Huh , Sure,, cool ")
    config = SoftAckConfig.from_env()
    assert config.soft_acks == {"uhhuh", "sure", "cool"}


def test_dotenv_is_found_upwards(clean_env):
    (clean_env / ".env").write_text("LIVEKIT_SOFT_ACKS=roger that,roger\n")
    sub = clean_env / "a" / "b"
    sub.mkdir(parents=True)
    import os

    os.chdir(sub)
    assert SoftAckConfig.from_env().soft_acks == {"roger that", "roger"}


def test_environment_wins_over_dotenv(clean_env, monkeypatch):
    (clean_env / ".env").write_text("LIVEKIT_SOFT_ACKS=roger that\n")
    monkeypatch.setenv("LIVEKIT_SOFT_ACKS", "roger")
    assert SoftAckConfig.from_env().soft_acks == {"roger"}


def test_malformed_values_warn_and_keep_defaults(clean_env, monkeypatch, caplog):
    for bad in ["", ",,,", " , ; ", "!!!,???", ",".join(f"w{i}" for i in range(MAX_ENTRIES + 1)), "a b c d e f g h"]:
        monkeypatch.setenv("LIVEKIT_SOFT_ACKS", bad)
        with caplog.at_level(logging.WARNING, logger="softack"):
            caplog.clear()
            config = SoftAckConfig.from_env()
        assert config.soft_acks == frozenset(DEFAULT_SOFT_ACKS), bad
        assert any("LIVEKIT_SOFT_ACKS" in r.getMessage() for r in caplog.records), bad


def test_keyword_list_is_configurable(clean_env, monkeypatch):
    monkeypatch.setenv("LIVEKIT_INTERRUPT_KEYWORDS", "halt, hold on")
    config = SoftAckConfig.from_env()
    assert config.keywords == {"halt", "hold on"}


def test_soft_ack_that_is_a_keyword_is_dropped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="softack"):
        config = SoftAckConfig(soft_acks={"yeah", "stop"})
    assert "stop" not in config.soft_acks and "stop" in config.keywords
    assert any("stop" in r.getMessage() for r in caplog.records)


def test_unreadable_dotenv_warns_and_keeps_defaults(clean_env, caplog):
    path = clean_env / ".env"
    path.write_bytes(b"LIVEKIT_SOFT_ACKS=\xff\xfe\x00bad\n")
    with caplog.at_level(logging.WARNING, logger="softack"):
        config = SoftAckConfig.from_env(dotenv_path=str(path))
    assert config.soft_acks == frozenset(DEFAULT_SOFT_ACKS)
    assert any(".env" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records), caplog.text


def test_reload_at_run_time(clean_env, monkeypatch, classifier):
    filt = BackchannelFilter(SoftAckConfig.from_env(), classifier)
    assert filt.decide("roger that", "speaking").reason.value != "soft_ack"
    monkeypatch.setenv("LIVEKIT_SOFT_ACKS", "roger that")
    filt.reload_config()
    d = filt.decide("roger that", "speaking")
    assert d.action.value == "ignore" and d.reason.value == "soft_ack"
    # The old list is gone: "yeah" is no longer a soft-ack, so the model decides it.
    assert filt.decide("yeah", "speaking").reason.value == "model"
