"""Loading the exported model: where it is found, and clear errors when it is bad."""

import json
import shutil

import pytest

from softack import ModelLoadError, OnnxClassifier, default_model_path
from softack.onnx_model import MAX_MODEL_WORDS, model_input

from .conftest import ROOT


def test_default_model_loads_with_threshold_in_metadata(classifier):
    assert 0 < classifier.threshold < 1
    card = json.loads((ROOT / "model" / "softack.json").read_text())
    assert abs(card["threshold"] - classifier.threshold) < 1e-6


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


def test_scores_are_probabilities(classifier):
    for text in ["yeah", "what time do you close", "", "x " * 500]:
        s = classifier.score(text)
        assert 0.0 <= s <= 1.0
