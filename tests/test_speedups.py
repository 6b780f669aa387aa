"""The C normaliser (softack/_speedups.c) gives the Python path's answers, decision for decision.

`make install` compiles it (hatch_build.py); softack falls back to the Python path without it.
The Python path stays the definition: every test here compares the two on the same input.
"""

from __future__ import annotations

import importlib
import os
import random
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from softack import BackchannelFilter, SoftAckConfig
from softack.rules import PhraseFinder

N = importlib.import_module("softack.normalize")
R = importlib.import_module("softack.rules")
FUZZ_EXAMPLES = int(os.environ.get("SOFTACK_FUZZ_EXAMPLES", "300"))

# ASCII pieces that exercise every branch: case, punctuation, apostrophes (alone, at word edges,
# backquotes), spelling variants, both halves of every pair, keywords and soft-acks, digits, and
# words too long for the C table (over 45 characters: the Python path takes the text).
PIECES = [
    " ", "  ", "\t", "\n", ",", ".", "?", "!", "-", "'", "''", "`", "'cause", "that's", "don't'",
    "Uh", "uh", "huh", "hu", "hum", "uhhu", "uhhhuh", "mm", "m", "hmm", "hmmm", "Mm-hmm", "mhm",
    "um", "o", "k", "kay", "O.K.", "all", "right", "Alright", "yeah", "YEAH", "yea", "yeh", "ooh",
    "ahh", "no", "way", "hold", "on", "wait", "stop", "one", "sec", "second", "give", "me", "a",
    "but", "okay", "ok", "sure", "i", "see", "got", "it", "come", "again", "never", "mind",
    "price", "7pm", "4471", "x" * 46, "uh" + "h" * 50,
]  # fmt: skip
ascii_texts = st.lists(st.sampled_from(PIECES), max_size=60).map(" ".join) | st.text(
    alphabet=string.printable, max_size=200
)


@pytest.fixture
def python_path(monkeypatch):
    """Run softack without the C module (as an install without a compiler does)."""
    monkeypatch.setattr(N, "_speedups", None)
    monkeypatch.setattr(R, "_first_phrase", None)


def test_the_install_built_the_c_normaliser():
    # The README's install compiles it; without a C compiler softack still works (the Python
    # path), but this suite then checks nothing here, so it says so rather than skip.
    assert N.SPEEDUPS, "softack._speedups was not built: is a C compiler installed?"


@settings(max_examples=FUZZ_EXAMPLES * 10, deadline=None)
@given(text=ascii_texts)
def test_same_text_and_words_as_the_python_path(text):
    marks = frozenset({"no", "hold", "but", "one", "all", "uhhuh", "alright", "ok"})
    normalized, words, present = N.normalize_marked(text, marks)
    expected, expected_words = N._normalize_both(text)
    assert normalized == expected
    assert (words if words is not None else normalized.split()) == expected_words
    # every mark among the words is reported; beside them only the first half of a folded pair
    # ("all" of "all right"), which a lookup then does not find in the text
    assert marks.intersection(expected_words) <= set(present)
    assert set(present) - set(expected_words) <= {first for first, _ in N._PAIRS}
    if isinstance(present, dict):  # with where to start looking: never past the word's first place
        padded = f" {normalized} "
        for word, offset in present.items():
            first = padded.find(f" {word} ")
            assert first == -1 or 0 <= offset <= first
    assert N.normalize_both(text) == (expected, expected_words)


# Rule lists for the decision-level comparison: defaults, and lists whose phrases share words
# with the pairs and the spelling variants.
CONFIGS = [
    SoftAckConfig(),
    SoftAckConfig(soft_acks={"yeah", "no way", "okay", "hold", "uh huh", "all right"}, keywords={"hold on", "no", "ok"}),
    SoftAckConfig(soft_acks={"mm hmm", "o k"}, keywords={"alright", "uh"}),
]


@settings(max_examples=FUZZ_EXAMPLES * 5, deadline=None)
@given(text=ascii_texts, which=st.integers(0, len(CONFIGS) - 1), final=st.booleans())
def test_same_decisions_as_the_python_path(text, which, final):
    filt = BackchannelFilter(CONFIGS[which], classifier=False)
    fast = filt.decide(text, "speaking", final=final)
    saved = N._speedups, R._first_phrase
    N._speedups = R._first_phrase = None
    try:
        slow = filt.decide(text, "speaking", final=final)
    finally:
        N._speedups, R._first_phrase = saved
    assert fast == slow


def test_a_keyword_added_later_is_found_in_words_already_seen():
    # The C table remembers what it knows of each word; a new rule list adds marks, and a word
    # seen before the list existed must not stay unmarked.
    word = "zebrafinch"
    text = f"i saw a {word} today"
    before = BackchannelFilter(SoftAckConfig(), classifier=False).decide(text, "speaking", final=True)
    assert before.keyword is None
    after = BackchannelFilter(SoftAckConfig(keywords={word}), classifier=False).decide(text, "speaking", final=True)
    assert after.keyword == word


@pytest.fixture
def word_cache_restored():
    """The Python path's word cache as it was (a test that fills it must not slow later tests)."""
    saved = dict(N._word_cache)
    yield
    N._word_cache.clear()
    N._word_cache.update(saved)


def test_right_after_the_table_fills_and_empties(word_cache_restored):
    # More distinct words than the table holds (it empties itself when half full): the answers
    # stay the Python path's, for new words and for words seen before the table emptied.
    rng = random.Random(5)
    vocabulary = ["".join(rng.choices(string.ascii_letters + "'", k=rng.randint(1, 12))) for _ in range(40_000)]
    vocabulary += PIECES
    first = None
    for start in range(0, len(vocabulary), 400):
        text = " ".join(vocabulary[start : start + 400])
        first = first or text
        assert N.normalize_both(text) == N._normalize_both(text)
    assert N.normalize_both(first) == N._normalize_both(first)


def test_the_c_normaliser_rejects_what_it_does_not_take():
    if not N.SPEEDUPS:
        pytest.fail("softack._speedups was not built")
    with pytest.raises(TypeError):
        N._speedups.normalize_ascii("caf\u00e9")  # the Python path takes text that is not ASCII
    with pytest.raises(TypeError):
        N._speedups.normalize_ascii(b"bytes")


def test_the_python_path_alone_still_decides(python_path):
    filt = BackchannelFilter(SoftAckConfig(), classifier=False)
    assert filt.decide("yeah okay but wait", "speaking").keyword == "but"
    assert filt.decide("Uh-huh.", "speaking", final=True).action.value == "ignore"


def test_threads_sharing_the_table_get_the_python_answers(word_cache_restored):
    # The C table is shared by every thread. New words call back into Python, where another
    # thread may run, fill the table and empty it; every answer must still be the Python path's.
    import sys
    import threading

    rng = random.Random(11)
    texts = [
        " ".join(rng.choice(PIECES) if rng.random() < 0.3 else "".join(rng.choices("abcdehkmoruy'", k=rng.randint(1, 6)))
                 for _ in range(rng.randint(1, 40)))
        for _ in range(4000)
    ]  # fmt: skip
    expected = [N._normalize_both(t) for t in texts]
    N._word_cache.clear()  # so that words are new again, and call back into Python
    N._speedups.configure(N._FOLD_TYPED, N._canonical_word, N._PAIRS)  # and the C table is empty
    wrong: list[str] = []

    def work(offset: int) -> None:
        for k in range(len(texts)):
            j = (k * 7 + offset) % len(texts)
            if N.normalize_both(texts[j]) != expected[j]:
                wrong.append(texts[j])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(n * 997,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong


PHRASE_WORDS = ["no", "way", "hold", "on", "one", "sec", "second", "give", "me", "a", "wait", "but", "x"]


@settings(max_examples=FUZZ_EXAMPLES * 10, deadline=None)
@given(
    phrases=st.sets(st.lists(st.sampled_from(PHRASE_WORDS), min_size=1, max_size=3).map(" ".join), min_size=1, max_size=8),
    words=st.lists(st.sampled_from(PHRASE_WORDS + ["yeah", "nope"]), max_size=30),
    as_dict=st.booleans(),
    extra=st.sets(st.sampled_from(PHRASE_WORDS), max_size=3),
)
# the phrase's first word before the phrase itself, and two phrases at one position
@example(phrases={"hold on"}, words=["hold", "x", "hold", "on"], as_dict=True, extra=set())
@example(phrases={"hold", "hold on", "wait"}, words=["x", "wait", "hold", "on"], as_dict=False, extra={"no"})
def test_first_phrase_in_c_is_first_of_in_python(phrases, words, as_dict, extra):
    if R._first_phrase is None:
        pytest.fail("softack._speedups was not built")
    finder = PhraseFinder(phrases)
    text = " ".join(words)
    padded = f" {text} "
    present: object = set(words) | extra  # words not in the text do no harm
    if as_dict:  # offsets at or before each word's first place (or anywhere, for absent words)
        present = {w: max(0, padded.find(f" {w} ")) // 2 if f" {w} " in padded else 0 for w in present}
    assert finder.first_of(present, padded) == finder._first_of(present, padded) == finder.first(words)


def test_marks_added_before_an_error_are_still_reported():
    # add_marks stopped by a bad item must not leave words it already added unmarked in the table
    if not N.SPEEDUPS:
        pytest.fail("softack._speedups was not built")
    word = "quokkaroo"
    assert N._speedups.normalize_ascii(f"{word} bar")[1] is None  # seen before it is a mark
    with pytest.raises(TypeError):
        N._speedups.add_marks([word, []])  # a list is no word
    N._speedups.add_marks(frozenset({word}))
    assert N._speedups.normalize_ascii(f"{word} bar")[1] == {word: 0}


@pytest.mark.parametrize(
    ("present", "expected"),
    [({"zzz": None, "no": 0}, "no"), ({"zzz": 10**20, "no": 0}, "no"), ({"no": -(10**30)}, "no"), ({"no": 10**30}, None)],
)
def test_first_phrase_reads_an_offset_only_for_a_phrase_word(present, expected):
    # as the Python definition does: an offset of a word no phrase begins with is never read, and
    # one out of range is clamped, as str.find clamps it
    finder = PhraseFinder(["no"])
    assert finder._first_of(present, " no ") == finder.first_of(present, " no ") == expected
