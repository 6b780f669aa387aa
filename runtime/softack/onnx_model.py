"""The exported TF-IDF + logistic-regression model, run with onnxruntime.

Only the session and the tensor plumbing live here. The model takes one normalised utterance and
returns the probability that it is an interruption; the decision threshold chosen at training
time travels inside the ``.onnx`` file as metadata, so a model and its threshold never drift apart.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
from pathlib import Path

import numpy as np

from .context import AgentContext, conjoined

logger = logging.getLogger("softack")

__all__ = [
    "MODEL_ENV",
    "MODEL_FILENAME",
    "MAX_MODEL_WORDS",
    "ModelLoadError",
    "OnnxClassifier",
    "default_model_path",
    "model_input",
]

MODEL_ENV = "SOFTACK_MODEL"
MODEL_FILENAME = "softack.onnx"
# The model reads the start of an utterance: whether someone is taking the floor shows in the
# first words (every row of data/ longer than 10 words is an interruption, and a long transcript
# was judged on its interims long before it grew), and a bounded input keeps a 1,000-word
# transcript as cheap as a 16-word one. (48 until the bench showed long inputs setting the p99.)
MAX_MODEL_WORDS = 16
# Utterance boundaries as words, so the model's n-grams can see how an utterance starts and ends:
# "do you" opens many questions, while "do you" + end is an echo backchannel ("oh do you?").
BOUNDARY_START, BOUNDARY_END = "xxbos", "xxeos"


def model_input(normalized: str, context: AgentContext | None = None) -> str:
    """What the model reads for a normalised utterance: its first words, between boundary markers,
    conjoined with the agent's line (``softack.context``).

    Training and inference both call this, so the model never sees text the runtime would not send.
    """
    words = normalized.split(" ", MAX_MODEL_WORDS)
    if len(words) > MAX_MODEL_WORDS:
        normalized = " ".join(words[:MAX_MODEL_WORDS])
    return conjoined(f"{BOUNDARY_START} {normalized} {BOUNDARY_END}", context)


class ModelLoadError(RuntimeError):
    """The model file is missing, unreadable or not a softack ONNX model. The message names the path."""


def default_model_path() -> Path:
    """Where the model is looked for when no path is given.

    ``SOFTACK_MODEL`` first, then the copy shipped inside the installed package, then ``model/`` of
    a source checkout.
    """
    if env := os.environ.get(MODEL_ENV):
        return Path(env)
    packaged = importlib.resources.files("softack") / "model" / MODEL_FILENAME
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "model" / MODEL_FILENAME


class OnnxClassifier:
    """Scores normalised utterances with the exported model.

    Args:
        path: the ``.onnx`` file; ``default_model_path()`` when None.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise ModelLoadError(
                f"softack model not found at {self.path} "
                f"(set {MODEL_ENV} or run `make train` to create it)"
            )
        opts = ort.SessionOptions()
        # A voice worker shares its CPU with VAD, STT and audio: one thread, no spinning.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            meta = self._session.get_modelmeta().custom_metadata_map
            self.threshold = float(meta["threshold"])
            # with the agent's line as context (a model without one uses the same threshold)
            self.context_threshold = float(meta.get("threshold_context", meta["threshold"]))
            self.metadata: dict[str, str] = dict(meta)
            # An intent model's classes are intent names, BACKCHANNEL first; a binary one's are
            # "0=ignore,1=interrupt" and names no intent.
            classes = meta.get("classes", "")
            self.intents: tuple[str, ...] = tuple(classes.split(",")) if classes.startswith("BACKCHANNEL,") else ()
            # Interim words that only begin a backchannel of the training data ("of" of "of course").
            self.interim_prefixes: frozenset[str] = frozenset(json.loads(meta.get("interim_prefixes", "[]")))
            self._input = self._session.get_inputs()[0].name
            outputs = [o.name for o in self._session.get_outputs()]
            self._outputs = ["probabilities" if "probabilities" in outputs else outputs[-1]]
            self._run = self._session.run
            # One real run now, so a graph that loads but cannot score fails at start, not mid-call.
            self.score("okay")
            self._run = self._fast_run()
        except ModelLoadError:
            raise
        except Exception as e:  # onnxruntime raises several unrelated types for a bad file
            raise ModelLoadError(f"softack model at {self.path} could not be loaded: {e}") from e
        for name, value in (("threshold", self.threshold), ("threshold_context", self.context_threshold)):
            if not 0.0 < value < 1.0:
                raise ModelLoadError(f"softack model at {self.path} has {name} {value} outside (0, 1)")

    def _fast_run(self):
        """onnxruntime's session ``run`` without its Python wrapper's input checks (~2 us a call),
        when this onnxruntime has the inner session and it gives the same answer; else the public
        ``run``."""
        inner = getattr(self._session, "_sess", None)
        if inner is None:
            return self._session.run
        x = {self._input: np.array([[model_input("okay")]], dtype=object)}
        try:
            same = np.array_equal(inner.run(self._outputs, x, None)[0], self._session.run(self._outputs, x)[0])
        except Exception:
            same = False
        return (lambda outputs, feed: inner.run(outputs, feed, None)) if same else self._session.run

    def predict(self, normalized: str, context: AgentContext | None = None) -> tuple[float, str | None]:
        """P(interruption) of the normalised utterance in its context, and the likeliest intent
        among the interrupting ones (None for a binary model)."""
        x = np.array([[model_input(normalized, context)]], dtype=object)
        p = self._run(self._outputs, {self._input: x})[0][0].tolist()
        if not self.intents:
            return p[1], None
        # P(interrupt) is everything but BACKCHANNEL (class 0); the intent is the likeliest of the rest
        # (the first of equals, as numpy's argmax).
        return 1.0 - p[0], self.intents[p.index(max(p[1:]), 1)]

    def score(self, normalized: str, context: AgentContext | None = None) -> float:
        """Probability that the normalised utterance is an interruption."""
        return self.predict(normalized, context)[0]
