import pytest

from softack.normalize import has_word_characters, normalize


@pytest.mark.parametrize(
    "raw",
    ["uh-huh", "Uh-huh.", "uh huh", "UH HUH", "uhhuh", "uh-hu", "uh hu", "uhhu", "Uh huh!"],
)
def test_uh_huh_spellings_meet(raw):
    assert normalize(raw) == "uhhuh"


@pytest.mark.parametrize("raw", ["mm-hmm", "Mm-hmm.", "mm hmm", "mhm", "mhmm", "um-hum", "um hum", "uh-hum", "mmhmm"])
def test_mm_hmm_spellings_meet(raw):
    assert normalize(raw) == "mhm"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Okay.", "okay"),
        ("O.K.", "ok"),
        ("OK!", "ok"),
        ("Yeah, yeah.", "yeah yeah"),
        ("yea", "yeah"),
        ("Hmmm...", "hmm"),
        ("hm", "hmm"),
        ("All right", "alright"),
        ("That\u2019s right", "that's right"),
        ("'cause", "cause"),
        ("Caf\u00e9", "cafe"),
        ("  lots   of\tspace \n", "lots of space"),
        ("Order #4471, please", "order 4471 please"),
        ("ohhh", "oh"),
    ],
)
def test_case_punctuation_and_variants(raw, expected):
    assert normalize(raw) == expected


def test_negative_uh_uh_is_not_uh_huh():
    # "uh-uh" means no: it must not fold into the continuer "uh-huh".
    assert normalize("uh-uh") == "uh uh"
    assert normalize("huh-uh") == "huh uh"


def test_words_inside_other_words_are_untouched():
    assert normalize("ohio mmhmmm hmmm yeahs") .split()[0] == "ohio"
    assert normalize("yeahs") == "yeahs"
    assert normalize("ahead") == "ahead"


@pytest.mark.parametrize("raw", ["", "   ", "...", "?!", "\u200b", "\x00\x01", "\U0001f642"])
def test_no_words_normalises_to_empty(raw):
    assert normalize(raw) == ""


def test_other_scripts_are_detected_as_words():
    assert normalize("\u4f60\u597d") == ""
    assert has_word_characters("\u4f60\u597d")
    assert has_word_characters("\u05e9\u05dc\u05d5\u05dd")
    assert not has_word_characters("?! \U0001f642")


def test_lone_surrogates_do_not_raise():
    assert normalize("yeah \udcff okay") == "yeah okay"


def test_idempotent_on_samples():
    for raw in ["Uh-huh, yeah!", "mm hmm okay", "O.K. then", "no, stop", "what's the price?"]:
        once = normalize(raw)
        assert normalize(once) == once
