"""Train the softack classifier: data in, model fit, threshold chosen, numbers printed, ONNX out.

    python -m training.train                  # data/ only: what model/ ships
    python -m training.train --corpus PATH    # data/ plus a SwDA-style corpus you have (opt-in)

Reads top to bottom. Defaults are at the top and every one is a command-line flag.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

from softack.config import SoftAckConfig
from softack.context import Cue
from softack.normalize import normalize, normalize_words
from softack.onnx_model import MAX_MODEL_WORDS, model_input
from softack.rules import RuleMatcher, RuleVerdict

from .prepare import CONTEXT_FILE, DATA_FILE, INTENTS, ROOT, Row, load_context, load_data, load_swda, split

# ---- defaults -------------------------------------------------------------------------------
OUT_DIR = ROOT / "model"
ANALYZER = "char"  # character n-grams: they generalise across spellings and unseen words better
NGRAMS = (2, 5)  # than word n-grams did on speech nobody here wrote (see model/MODEL_CARD.md)
C = 2.0  # inverse regularisation strength (chosen on the SwDA *train* split as a dev set)
MAX_FEATURES = 16000  # keep the n-grams with the largest weights: the ONNX graph's cost grows with this
MAX_MISSED = 0.005  # threshold rule: highest threshold whose cross-validated missed rate <= this
# The same rule, apart, for rows with the agent's line: the model is surer in context, and one
# shared threshold would make every context nod pay for the words-alone rows' uncertainty.
MAX_MISSED_CONTEXT = 0.01
FOLDS = 5
SEED = 0
PREFIX_MAX_WORDS = 2  # interim prefixes of backchannels that wait for the next words (see interim_prefixes)


def features(row: Row) -> str:
    """The model's input for a row: the same function the runtime calls."""
    return model_input(normalize(row.text), row.context)


def sample_weights(rows: list[Row]) -> np.ndarray:
    """Backchannels and interruptions weigh the same in total (the binary "balanced" weighting), so
    nine intent classes do not tilt the ignore/interrupt trade-off the threshold is chosen on."""
    y = np.array([r.y for r in rows])
    n, n_int = len(y), max(1, int(y.sum()))
    n_bc = max(1, n - n_int)
    return np.where(y == 1, n / (2 * n_int), n / (2 * n_bc))


def p_interrupt(pipeline, x: list[str]) -> np.ndarray:
    """P(interrupt) = everything but BACKCHANNEL (class 0), as ``OnnxClassifier.predict`` reads it."""
    return 1.0 - pipeline.predict_proba(x)[:, 0]


def build_pipeline(c: float = C, ngrams: tuple[int, int] = NGRAMS, vocabulary: list[str] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            # lowercase=False and sublinear_tf=False: both break ONNX parity (see onnx-notes);
            # the text arrives already normalised.
            ("tfidf", TfidfVectorizer(lowercase=False, analyzer=ANALYZER, ngram_range=ngrams,
                                      sublinear_tf=False, vocabulary=vocabulary)),
            # one multinomial model over the intents: P(interrupt) = 1 - P(BACKCHANNEL), and the
            # intent is read from the same run
            ("lr", LogisticRegression(C=c, max_iter=5000, random_state=SEED)),
        ]
    )


def fit(train_rows: list[Row], c: float = C, max_features: int = MAX_FEATURES):
    """Fit on rows in two passes: all n-grams, then only the ``max_features`` with the largest weights
    (the largest absolute weight over the intents).

    Deterministic for the same rows (lbfgs, fixed seed).
    """
    x = [features(r) for r in train_rows]
    y = np.array([r.intent_y for r in train_rows])
    w = {"lr__sample_weight": sample_weights(train_rows)}
    pipeline = build_pipeline(c).fit(x, y, **w)
    names = pipeline.named_steps["tfidf"].get_feature_names_out()
    if len(names) <= max_features:
        return pipeline
    weights = np.abs(pipeline.named_steps["lr"].coef_).max(axis=0)
    keep = sorted(names[np.argsort(-weights, kind="stable")[:max_features]])
    return build_pipeline(c, vocabulary=keep).fit(x, y, **w)


def cross_validated_scores(train_rows: list[Row], c: float, max_features: int, folds: int = FOLDS) -> np.ndarray:
    """Out-of-fold P(interrupt) for every training row, each from a model that never saw it.

    Folds are grouped by the split key, so both sides of a context pair stay in one fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.array([r.y for r in train_rows])
    groups = [r.split_key for r in train_rows]
    x = [features(r) for r in train_rows]
    oof = np.empty(len(train_rows))
    for fit_idx, score_idx in StratifiedGroupKFold(folds, shuffle=True, random_state=SEED).split(x, y, groups):
        model = fit([train_rows[i] for i in fit_idx], c, max_features)
        oof[score_idx] = p_interrupt(model, [x[i] for i in score_idx])
    return oof


def rule_outcomes(rows: list[Row], matcher: RuleMatcher) -> np.ndarray:
    """What the rules settle for each row's final text: 1 keyword, 0 soft-ack, -1 the model decides.

    As at run time, a soft-ack right after the agent's question is left to the model (it may answer)."""
    out = np.empty(len(rows), dtype=int)
    for i, r in enumerate(rows):
        verdict = matcher.match(normalize_words(r.text)).verdict
        ctx = r.context
        if verdict is RuleVerdict.KEYWORD:
            out[i] = 1
        elif verdict is RuleVerdict.SOFT_ACK and not (ctx is not None and ctx.cue == Cue.QUESTION):
            out[i] = 0
        else:
            out[i] = -1
    return out


def has_context(rows: list[Row]) -> np.ndarray:
    return np.array([bool(r.said or r.unsaid) for r in rows])


def row_thresholds(rows: list[Row], threshold: float, context_threshold: float) -> np.ndarray:
    """Each row's threshold, as the runtime picks it: the context one when the row has the agent's line."""
    return np.where(has_context(rows), context_threshold, threshold)


def pipeline_decisions(rows: list[Row], scores: np.ndarray, threshold, matcher: RuleMatcher) -> np.ndarray:
    """1 = interrupt, as the runtime decides: keyword -> 1, all soft-ack -> 0, else score >= threshold
    (a number, or one per row)."""
    ruled = rule_outcomes(rows, matcher)
    return np.where(ruled >= 0, ruled, (scores >= threshold).astype(int))


def interim_prefixes(rows: list[Row], matcher: RuleMatcher) -> list[str]:
    """First words of the data's backchannels ("of" of "of course", "all" of "all right").

    On an interim transcript the model's interruption on exactly these words waits for the next
    interim: the start of a nod is no evidence yet. A keyword is never among them (it interrupts
    first), nor a text that is itself an interruption in the data.
    """
    interrupting = {normalize(r.text) for r in rows if r.y == 1}
    out = set()
    for r in rows:
        if r.y == 1 or r.said or r.unsaid:
            continue
        words = normalize_words(r.text)
        for k in range(1, min(len(words), PREFIX_MAX_WORDS + 1)):
            prefix = " ".join(words[:k])
            if prefix not in interrupting and matcher.match(words[:k]).verdict is not RuleVerdict.KEYWORD:
                out.add(prefix)
    return sorted(out)


def choose_threshold(rows: list[Row], y: np.ndarray, scores: np.ndarray, matcher: RuleMatcher, max_missed: float) -> float:
    """The highest threshold whose pipeline missed-interrupt rate on (texts, y, scores) stays <= max_missed.

    Higher thresholds ignore more; the rule takes as many backchannels as the budget for missed
    interruptions allows, and no more. The rules are matched once; only the scores move.
    """
    ruled = rule_outcomes(rows, matcher)[y == 1]
    model_scores = scores[y == 1][ruled < 0]
    missed_by_rules = int(np.sum(ruled == 0))
    candidates = np.unique(np.concatenate([scores, [0.5]]))  # ascending
    # missed(t) = soft-acked interruptions + model-decided interruptions scoring below t
    missed = (missed_by_rules + np.searchsorted(np.sort(model_scores), candidates, side="left")) / max(1, len(ruled))
    ok = missed <= max_missed  # non-increasing in t: a prefix of the candidates
    best = float(candidates[np.flatnonzero(ok)[-1]]) if ok.any() else float(candidates.min())
    # Sit just below the chosen score so float noise between sklearn and ONNX cannot flip it.
    return max(1e-6, best - 1e-6)


def rates(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tn = int(np.sum((y == 0) & (pred == 0)))
    fp = int(np.sum((y == 0) & (pred == 1)))
    fn = int(np.sum((y == 1) & (pred == 0)))
    tp = int(np.sum((y == 1) & (pred == 1)))
    return {
        "n": int(len(y)),
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "false_interrupt": fp / max(1, tn + fp),
        "missed_interrupt": fn / max(1, fn + tp),
        "accuracy": (tn + tp) / max(1, len(y)),
    }


def _fuse_idf_and_normalizer(onx) -> None:
    """Rewrite the slow spots of skl2onnx's TF-IDF + logistic-regression graph; the parity check
    below guards the result.

    - The idf ``Mul`` after ``TfIdfVectorizer(mode="TF")`` folds into the op's own "TFIDF" mode.
    - The head is linear, so ``softmax(W (x / |x|) + b) = softmax((W x) / |x| + b)``: the scores are
      taken on the unnormalised vector and divided by its norm afterwards, so no op writes a second
      16,000-wide vector. In onnxruntime's CPU kernels on this model, ``ReduceL2`` + ``Div`` over the
      vector took ~22 us where ``ReduceSum(x * x)`` takes ~2, and the ai.onnx.ml ``Normalizer`` on
      the probabilities is a plain ``Softmax`` here. (sklearn leaves an all-zero row at zero; the
      norm floor ``tiny`` does the same: the scores are then the intercepts alone.)
    """
    from onnx import helper, numpy_helper

    graph = onx.graph
    nodes = list(graph.node)
    tfidf = next(n for n in nodes if n.op_type == "TfIdfVectorizer")
    mul = next(n for n in nodes if n.op_type == "Mul" and tfidf.output[0] in n.input)
    # the TF-IDF L2 normaliser, the classifier, and the Normalizer skl2onnx puts on its probabilities
    norm = next(n for n in nodes if n.op_type == "Normalizer" and mul.output[0] in n.input)
    linear = next(n for n in nodes if n.op_type == "LinearClassifier")
    proba = next(n for n in nodes if n.op_type == "Normalizer" and n is not norm)
    idf_init = next(i for i in graph.initializer if i.name in mul.input)
    idf = numpy_helper.to_array(idf_init).astype(np.float32)

    for attr in list(tfidf.attribute):
        if attr.name in ("mode", "weights"):
            tfidf.attribute.remove(attr)
    # onnxruntime reads "weights" by pool position, not by output column: map through ngram_indexes.
    pool_to_column = next(helper.get_attribute_value(a) for a in tfidf.attribute if a.name == "ngram_indexes")
    weights = idf[np.asarray(pool_to_column, dtype=np.int64)]
    tfidf.attribute.extend([helper.make_attribute("mode", "TFIDF"), helper.make_attribute("weights", weights.tolist())])
    x = tfidf.output[0] = mul.output[0]

    attrs = {a.name: helper.get_attribute_value(a) for a in linear.attribute}
    if attrs.get("post_transform") != b"SOFTMAX" or attrs.get("multi_class") != 1:
        raise ValueError("expected a multinomial LinearClassifier with a softmax (LogisticRegression over intents)")
    classes = len(attrs["classlabels_ints"])
    head = [
        helper.make_node("Mul", [x, x], ["x_squared"], name="Square"),
        helper.make_node("ReduceSum", ["x_squared", "l2_axes"], ["sum_squares"], keepdims=1, name="SumSquares"),
        helper.make_node("Sqrt", ["sum_squares"], ["l2_norm"], name="L2Norm"),
        helper.make_node("Max", ["l2_norm", "l2_tiny"], ["l2_safe"], name="L2Safe"),
        helper.make_node("LinearRegressor", [x], ["raw_scores"], domain="ai.onnx.ml", name="Scores",
                         coefficients=attrs["coefficients"], intercepts=[0.0] * classes, targets=classes),
        helper.make_node("Div", ["raw_scores", "l2_safe"], ["scores"], name="ScaleByNorm"),
        helper.make_node("Add", ["scores", "intercepts"], ["logits"], name="Intercepts"),
        helper.make_node("Softmax", ["logits"], [proba.output[0]], axis=1, name="Softmax"),
    ]
    out = [n for n in nodes if n not in (mul, norm, linear, proba)] + head
    del graph.node[:]
    graph.node.extend(out)
    # the classifier's label output goes with it: the runtime reads the probabilities only
    for output in [o for o in graph.output if o.name not in {n for node in out for n in node.output}]:
        graph.output.remove(output)
    graph.initializer.remove(idf_init)
    graph.initializer.extend([
        numpy_helper.from_array(np.array([np.finfo(np.float32).tiny], dtype=np.float32), "l2_tiny"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "l2_axes"),
        numpy_helper.from_array(np.asarray(attrs["intercepts"], dtype=np.float32).reshape(1, classes), "intercepts"),
    ])


def export_onnx(pipeline, path: Path, metadata: dict[str, str]) -> None:
    import onnx
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.linear_model import LogisticRegression

    onx = to_onnx(
        pipeline,
        initial_types=[("text", StringTensorType([None, 1]))],
        options={LogisticRegression: {"zipmap": False}},
        target_opset={"": 18, "ai.onnx.ml": 1},
    )
    _fuse_idf_and_normalizer(onx)
    # skl2onnx lists the opsets in no fixed order: sort them so the same model is the same bytes.
    opsets = sorted(((o.domain, o.version) for o in onx.opset_import))
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    onnx.checker.check_model(onx)
    for key, value in metadata.items():
        prop = onx.metadata_props.add()
        prop.key, prop.value = key, value
    onx.doc_string = "softack: P(intent | caller words, agent line); P(interrupt) = 1 - P(BACKCHANNEL); threshold in metadata"
    path.write_bytes(onx.SerializeToString())


def onnx_scores(path: Path, texts: list[str]) -> np.ndarray:
    """P(interrupt) from the exported graph, read as the runtime reads it."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.array(texts, dtype=object).reshape(-1, 1)
    return 1.0 - sess.run(["probabilities"], {"text": x})[0][:, 0]


def versions() -> dict[str, str]:
    import onnxruntime
    import skl2onnx
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA_FILE)
    ap.add_argument("--context", type=Path, default=CONTEXT_FILE, help="context rows (said, unsaid, caller, ...)")
    ap.add_argument("--corpus", type=Path, default=None, help="also train on a SwDA-style corpus folder (opt-in)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--c", type=float, default=C)
    ap.add_argument("--max-missed", type=float, default=MAX_MISSED)
    ap.add_argument("--max-missed-context", type=float, default=MAX_MISSED_CONTEXT)
    ap.add_argument("--max-features", type=int, default=MAX_FEATURES)
    args = ap.parse_args(argv)

    # ---- data in ----
    rows = load_data(args.data) + (load_context(args.context) if args.context.is_file() else [])
    train_rows, heldout_rows = split(rows)
    if args.corpus is not None:
        # corpus rows name no intent: a backchannel tag is BACKCHANNEL, any other TAKES_TURN
        corpus = load_swda(args.corpus, asr=True) + load_swda(args.corpus)
        train_rows = train_rows + [
            Row(r.text, r.label, r.category, "TAKES_TURN" if r.y else "BACKCHANNEL") for r in corpus
        ]
    x_train = [features(r) for r in train_rows]
    x_held = [features(r) for r in heldout_rows]
    y_held = np.array([r.y for r in heldout_rows])
    n_context = sum(1 for r in rows if r.said or r.unsaid)
    print(f"data: {len(rows)} rows ({n_context} with the agent's line); train {len(train_rows)}, "
          f"held-out {len(heldout_rows)}" + (f" (+ corpus {args.corpus})" if args.corpus else ""))

    # ---- model fit ----
    pipeline = fit(train_rows, args.c, args.max_features)
    vocab = len(pipeline.named_steps["tfidf"].vocabulary_)
    print(f"fit: TF-IDF {ANALYZER} {NGRAMS} n-grams, {vocab} features; LogisticRegression C={args.c} "
          f"over {len(INTENTS)} intents")

    # ---- threshold: cross-validated on the training split; the held-out split only reports ----
    matcher = RuleMatcher(SoftAckConfig())
    y_train = np.array([r.y for r in train_rows])
    oof = cross_validated_scores(train_rows, args.c, args.max_features)
    ctx = has_context(train_rows)
    plain_idx, ctx_idx = np.flatnonzero(~ctx), np.flatnonzero(ctx)
    threshold = choose_threshold([train_rows[i] for i in plain_idx], y_train[plain_idx], oof[plain_idx], matcher,
                                 args.max_missed)
    context_threshold = (
        choose_threshold([train_rows[i] for i in ctx_idx], y_train[ctx_idx], oof[ctx_idx], matcher,
                         args.max_missed_context)
        if len(ctx_idx) else threshold
    )
    held_scores = p_interrupt(pipeline, x_held)
    held_thresholds = row_thresholds(heldout_rows, threshold, context_threshold)
    held_model = rates(y_held, (held_scores >= held_thresholds).astype(int))
    held_pipeline = rates(y_held, pipeline_decisions(heldout_rows, held_scores, held_thresholds, matcher))
    print(f"threshold: {threshold:.4f} words alone, {context_threshold:.4f} with the agent's line (highest with "
          f"{FOLDS}-fold cross-validated pipeline missed <= {args.max_missed:.2%} / {args.max_missed_context:.2%})")
    for name, r in (("model only", held_model), ("pipeline", held_pipeline)):
        print(f"held-out {name:10s}: false interrupt {r['false_interrupt']:.1%}  missed {r['missed_interrupt']:.1%}  "
              f"accuracy {r['accuracy']:.1%}  (n={r['n']})")

    # ---- artifact out: written beside the old one, moved into place only after every check ----
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "softack.onnx"
    staged = args.out / ".softack.onnx.tmp"
    data_hash = hashlib.sha256(args.data.read_bytes()).hexdigest()
    context_hash = hashlib.sha256(args.context.read_bytes()).hexdigest() if args.context.is_file() else ""
    prefixes = interim_prefixes(train_rows, matcher)
    metadata = {
        "threshold": f"{threshold:.6f}",
        "threshold_context": f"{context_threshold:.6f}",
        "threshold_rule": f"highest threshold with {FOLDS}-fold cross-validated pipeline missed-interrupt <= "
                          f"{args.max_missed} on the training rows without context, <= {args.max_missed_context} "
                          "on those with the agent's line (threshold_context)",
        "training_data_sha256": data_hash,
        "context_data_sha256": context_hash,
        "trained_on": "data/" + (f" + {args.corpus.name}" if args.corpus else ""),
        "classes": ",".join(INTENTS),
        "interim_prefixes": json.dumps(prefixes),
    }
    export_onnx(pipeline, staged, metadata)

    # ---- parity: the exported graph must score as scikit-learn does ----
    every = x_train + x_held
    diff = float(np.max(np.abs(onnx_scores(staged, every) - p_interrupt(pipeline, every))))
    print(f"parity: max |onnx - sklearn| = {diff:.2e} over {len(every)} rows")
    if diff > 1e-4:
        staged.unlink()
        print("parity check failed: the model in model/ is left as it was", file=sys.stderr)
        return 1

    card = {
        **{k: v for k, v in metadata.items() if k != "interim_prefixes"},
        "threshold": threshold,
        "threshold_context": context_threshold,
        "interim_prefixes": len(prefixes),
        "features": {"kind": "tfidf", "analyzer": ANALYZER, "ngram_range": list(NGRAMS),
                     "vocabulary_size": vocab, "max_model_words": MAX_MODEL_WORDS,
                     "context": "caller words conjoined with the cue of the agent's heard line; "
                                "agent's last heard and first unsaid words"},
        "classifier": {"kind": "LogisticRegression", "C": args.c, "classes": list(INTENTS),
                       "weighting": "backchannels and interruptions balanced", "max_features": args.max_features},
        "rows": {"total": len(rows), "context": n_context, "train": len(train_rows), "heldout": len(heldout_rows),
                 "corpus": len(train_rows) + len(heldout_rows) - len(rows)},
        "heldout": {"model_only": held_model, "pipeline": held_pipeline},
        "parity_max_abs_diff": float(f"{diff:.1e}"),
        "model_bytes": staged.stat().st_size,
        "versions": versions(),
    }
    card_staged = args.out / ".softack.json.tmp"
    card_staged.write_text(json.dumps(card, indent=2) + "\n")
    staged.replace(onnx_path)
    card_staged.replace(args.out / "softack.json")
    print(f"wrote {onnx_path.relative_to(ROOT) if onnx_path.is_relative_to(ROOT) else onnx_path} "
          f"({card['model_bytes']:,} bytes) and softack.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
