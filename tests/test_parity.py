"""The shipped ONNX model is the scikit-learn model trained on data/, score for score."""

import hashlib
import json

import numpy as np
import pytest

from softack.normalize import normalize
from training.prepare import CONTEXT_FILE, DATA_FILE, Row, load_all, load_swda, split
from training.train import features, fit, p_interrupt

from .conftest import ROOT, SWDA_VAL


@pytest.fixture(scope="module")
def refit():
    train_rows, _ = split(load_all())
    card = json.loads((ROOT / "model" / "softack.json").read_text())
    return fit(train_rows, card["classifier"]["C"], card["classifier"]["max_features"])


def _compare(classifier, pipeline, rows: list[Row]):
    sk = p_interrupt(pipeline, [features(r) for r in rows])
    ox = np.array([classifier.score(normalize(r.text), r.context) for r in rows])
    return float(np.max(np.abs(sk - ox)))


def test_model_was_trained_on_this_data():
    card = json.loads((ROOT / "model" / "softack.json").read_text())
    assert card["training_data_sha256"] == hashlib.sha256(DATA_FILE.read_bytes()).hexdigest(), (
        "data/utterances.csv changed since model/ was exported: run `make train`"
    )
    assert card["context_data_sha256"] == hashlib.sha256(CONTEXT_FILE.read_bytes()).hexdigest(), (
        "data/context.csv changed since model/ was exported: run `make train`"
    )


def test_parity_on_every_row_of_data(classifier, refit):
    # with and without the agent's line: context rows are scored in their context
    assert _compare(classifier, refit, load_all()) < 1e-4


def test_parity_on_swda_validation(classifier, refit):
    if not SWDA_VAL.is_dir():
        pytest.fail(f"SwDA validation split not found at {SWDA_VAL} (CI has ../shared beside the clone)")
    rows = load_swda(SWDA_VAL) + load_swda(SWDA_VAL, asr=True)
    assert len(rows) > 2000
    # the words alone, and in the context of the other speaker's previous utterance
    assert _compare(classifier, refit, rows) < 1e-4
    assert _compare(classifier, refit, [Row(r.text, r.label, r.category) for r in rows]) < 1e-4
