"""Loading the exported model: where it is found, and clear errors when it is bad."""

import shutil

import pytest

from softack import BackchannelFilter, ModelLoadError, OnnxClassifier, SoftAckConfig, default_model_path
from softack.normalize import normalize
from softack.onnx_model import MAX_MODEL_WORDS, model_input

from .heldout import heldout


def model_with_threshold(tmp_path, value: str | None):
    """A copy of the shipped model whose threshold metadata is ``value`` (None: removed)."""
    import onnx

    model = onnx.load(default_model_path())
    props = [(p.key, p.value) for p in model.metadata_props if p.key != "threshold"]
    if value is not None:
        props.append(("threshold", value))
    onnx.helper.set_model_props(model, dict(props))
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


def test_the_threshold_travels_inside_the_model_file(tmp_path, classifier):
    # a copy alone in a folder (no softack.json beside it), its threshold rewritten
    strict = OnnxClassifier(model_with_threshold(tmp_path, "0.999"))
    assert strict.threshold == pytest.approx(0.999)
    text = normalize(heldout("are there any earlier flights", "interrupt"))
    assert strict.score(text) == classifier.score(text)  # same model, only the threshold differs
    assert BackchannelFilter(SoftAckConfig(), classifier).decide(text, "speaking").interrupts
    assert not BackchannelFilter(SoftAckConfig(), strict).decide(text, "speaking").interrupts


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2", "nan", "high", None])
def test_a_threshold_missing_or_outside_0_1_is_an_error_naming_the_file(tmp_path, value):
    with pytest.raises(ModelLoadError, match="model.onnx"):
        OnnxClassifier(model_with_threshold(tmp_path, value))


def test_env_variable_overrides_the_default(monkeypatch, tmp_path):
    copy = tmp_path / "m.onnx"
    shutil.copy(default_model_path(), copy)
    monkeypatch.setenv("SOFTACK_MODEL", str(copy))
    assert default_model_path() == copy
    assert OnnxClassifier().path == copy


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ModelLoadError, match=str(tmp_path / "nope.onnx")):
        OnnxClassifier(tmp_path / "nope.onnx")


def test_directory_is_an_error_naming_it(tmp_path):
    with pytest.raises(ModelLoadError, match=str(tmp_path)):
        OnnxClassifier(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", None])
def test_corrupt_or_truncated_file_is_an_error_naming_it(tmp_path, content):
    bad = tmp_path / "bad.onnx"
    if content is None:  # truncated: the first half of the real file
        data = default_model_path().read_bytes()
        content = data[: len(data) // 2]
    bad.write_bytes(content)
    with pytest.raises(ModelLoadError, match="bad.onnx"):
        OnnxClassifier(bad)


def test_model_input_is_bounded_and_marked():
    long = " ".join(["word"] * 1000)
    # The caller's words, bounded, then the same words conjoined with the (empty) context's cue.
    words = model_input(long).split()
    assert len(words) == 2 * (MAX_MODEL_WORDS + 2)
    assert words[0] == "xxbos" and words[MAX_MODEL_WORDS + 1] == "xxeos"
    assert words[MAX_MODEL_WORDS + 2] != "xxbos" and len(set(words[MAX_MODEL_WORDS + 2 :])) == 3


def test_score_is_the_interruption_probability_and_reads_only_the_bounded_input(classifier):
    # the probability of class 1 (interrupt), not of class 0: a held-out interruption scores
    # above a held-out backchannel, and the two classes' probabilities would swap that
    ask = classifier.score(normalize(heldout("Does it have a lifetime warranty?", "interrupt")))
    ack = classifier.score(normalize(heldout("that sounds fun", "ignore")))
    assert ack < classifier.threshold <= ask
    # words past MAX_MODEL_WORDS do not change the score: the model reads a bounded input
    head = " ".join(["please", "send", "the", "invoice"] * (MAX_MODEL_WORDS // 4))
    assert classifier.score(head + " yeah" * 500) == classifier.score(head + " wow what")


def test_the_inner_session_is_used_only_when_it_answers_as_the_public_run(classifier):
    """predict() skips onnxruntime's Python wrapper only where the inner session exists and gives
    the public run's answer; otherwise it calls the public run."""
    import numpy as np

    text = normalize("what about the price")
    expected = classifier.predict(text)
    session = classifier._session

    class NoInner:  # an onnxruntime whose session has no inner object
        run = staticmethod(session.run)

    class WrongInner:  # an inner session that answers differently
        class _sess:
            @staticmethod
            def run(outputs, feed, options):
                return [np.zeros((1, len(classifier.intents)), dtype=np.float32)]

        run = staticmethod(session.run)

    try:
        for fake in (NoInner(), WrongInner()):
            classifier._session = fake
            classifier._run = classifier._fast_run()
            assert classifier._run == session.run
            assert classifier.predict(text) == expected
        classifier._session = session
        classifier._run = classifier._fast_run()
        assert classifier._run != session.run and classifier.predict(text) == expected
    finally:
        classifier._session = session
        classifier._run = classifier._fast_run()
