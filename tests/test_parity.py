"""The shipped ONNX model is the scikit-learn model trained on data/, score for score."""

import json

import numpy as np
import pytest

from softack.normalize import normalize
from softack.onnx_model import model_input
from training.prepare import load_data, load_swda, split
from training.train import fit

from .conftest import ROOT, SWDA_VAL


@pytest.fixture(scope="module")
def refit():
    train_rows, _ = split(load_data())
    card = json.loads((ROOT / "model" / "softack.json").read_text())
    return fit(train_rows, card["classifier"]["C"], card["classifier"]["max_features"])


def _compare(classifier, pipeline, texts):
    normalized = [normalize(t) for t in texts]
    sk = pipeline.predict_proba([model_input(n) for n in normalized])[:, 1]
    ox = np.array([classifier.score(n) for n in normalized])
    return float(np.max(np.abs(sk - ox)))


def test_parity_on_every_row_of_data(classifier, refit):
    # also what catches a stale model: a refit on data/ as it is now must score like model/
    assert _compare(classifier, refit, [r.text for r in load_data()]) < 1e-4, (
        "model/ is not the model data/ trains: run `make train`"
    )


def test_parity_on_swda_validation(classifier, refit):
    if not SWDA_VAL.is_dir():
        pytest.fail(f"SwDA validation split not found at {SWDA_VAL} (CI has ../shared beside the clone)")
    texts = [r.text for r in load_swda(SWDA_VAL)] + [r.text for r in load_swda(SWDA_VAL, asr=True)]
    assert len(texts) > 2000
    assert _compare(classifier, refit, texts) < 1e-4
