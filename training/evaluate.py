"""Offline evaluation: confusion matrices for the rules, the model and the full pipeline.

    python -m training.evaluate                 # held-out split, and SwDA validation if present
    python -m training.evaluate --corpus PATH   # any SwDA-style corpus folder

Every system is judged as if the agent were speaking, on final transcripts. Beside softack it
runs the baselines of the label policy: the seed soft-ack rule and LiveKit's word-count gate
(min_words=2, min_words=3). Writes a Markdown report, a JSON of the figures and a PNG of the
confusion matrices to --out (default model/eval/).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from softack.config import SoftAckConfig
from softack.decision import Action, BackchannelFilter
from softack.normalize import normalize
from softack.onnx_model import OnnxClassifier
from softack.rules import RuleMatcher, RuleVerdict

from .prepare import ROOT, Row, load_data, load_swda, split
from .train import rates

DEFAULT_SWDA = ROOT.parent / "shared" / "corpora" / "swda" / "val"
SEED_SOFT_ACKS = frozenset({"okay", "yeah", "uhhuh", "ok", "hmm", "right"})


def _seed_words(text: str) -> list[str]:
    # The original design's matcher: lowercase, punctuation (hyphens too) deleted, split on spaces.
    return re.sub(r"[^a-z0-9' ]", "", text.lower()).split()


@dataclass
class System:
    name: str
    predict: Callable[[str], tuple[int, float | None]]  # text -> (1 = interrupt, score or None)


def build_systems(model_path: Path | None) -> list[System]:
    classifier = OnnxClassifier(model_path)
    matcher = RuleMatcher(SoftAckConfig())
    pipeline = BackchannelFilter(SoftAckConfig(), classifier)

    def seed_rule(text: str):
        words = _seed_words(text)
        return int(not (words and all(w in SEED_SOFT_ACKS for w in words))), None

    def min_words(k: int):
        return lambda text: (int(len(_seed_words(text)) >= k), None)

    def rules_only(text: str):
        # Undecided text interrupts: what the gate does when no model can be loaded.
        return int(matcher.match(normalize(text).split()).verdict is not RuleVerdict.SOFT_ACK), None

    def model_only(text: str):
        score = classifier.score(normalize(text))
        return int(score >= classifier.threshold), score

    def full(text: str):
        d = pipeline.decide(text, "speaking", final=True)
        return int(d.action is Action.INTERRUPT), d.score

    return [
        System("baseline: seed soft-ack rule", seed_rule),
        System("baseline: min_words=2", min_words(2)),
        System("baseline: min_words=3", min_words(3)),
        System("softack: rules only", rules_only),
        System("softack: model only", model_only),
        System("softack: rules + model", full),
    ]


def evaluate(systems: list[System], rows: list[Row]) -> dict[str, dict]:
    y = np.array([r.y for r in rows])
    out = {}
    for s in systems:
        preds, scores = zip(*(s.predict(r.text) for r in rows)) if rows else ((), ())
        pred = np.array(preds, dtype=int)
        out[s.name] = {**rates(y, pred), "_pred": pred, "_scores": scores}
    return out


def worst_errors(rows: list[Row], result: dict, n: int = 12) -> list[str]:
    """The pipeline's mistakes, most confident first (rule-made mistakes count as certain)."""
    y = np.array([r.y for r in rows])
    pred, scores = result["_pred"], result["_scores"]
    errors = []
    for i in np.flatnonzero(pred != y):
        s = scores[i]
        confidence = 1.0 if s is None else (s if pred[i] == 1 else 1 - s)
        kind = "false interrupt" if y[i] == 0 else "missed interrupt"
        errors.append((confidence, f"{kind:16s} {'rule ' if s is None else f'{s:.3f}'} {rows[i].category:14s} {rows[i].text!r}"))
    errors.sort(key=lambda e: -e[0])
    return [e[1] for e in errors[:n]]


def plot(results: dict[str, dict[str, dict]], path: Path, system: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(results)
    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 3.4), squeeze=False)
    for ax, name in zip(axes[0], sets):
        r = results[name][system]
        m = np.array([[r["tn"], r["fp"]], [r["fn"], r["tp"]]])
        rate = m / np.maximum(1, m.sum(axis=1, keepdims=True))
        ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v}\n{rate[i, j]:.1%}", ha="center", va="center",
                    color="white" if rate[i, j] > 0.5 else "black", fontsize=9)
        ax.set_xticks([0, 1], ["ignore", "interrupt"])
        ax.set_yticks([0, 1], ["ignore", "interrupt"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name, fontsize=9)
    fig.suptitle(system, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def by_category(rows: list[Row], result: dict) -> list[str]:
    """Per-category error rates of one system: where the mistakes are."""
    pred = result["_pred"]
    counts: dict[tuple[str, str], list[int]] = {}
    for row, p in zip(rows, pred):
        c = counts.setdefault((row.label, row.category), [0, 0])
        c[0] += int(p != row.y)
        c[1] += 1
    lines = ["| label | category | errors | rows | error rate |", "|---|---|---|---|---|"]
    for (label, category), (errors, n) in sorted(counts.items()):
        lines.append(f"| {label} | {category} | {errors} | {n} | {errors / n:.1%} |")
    return lines


def write_model_card(path: Path, card: dict, table: list[str], categories: list[str], eval_dir: Path) -> None:
    """model/MODEL_CARD.md from the training metadata and this evaluation, so the two never disagree."""
    held = card["heldout"]["pipeline"]
    v = card["versions"]
    text = f"""# Model card: softack interruption classifier

**What it does.** Given the normalised text of what a user said while a voice agent was speaking,
returns P(interrupt): the probability that the user wants the floor, as opposed to a backchannel
("yeah", "uh-huh", "oh really") that should let the agent keep talking. It runs after the
deterministic rules (soft-ack list, interrupt keywords) for text they leave undecided.

**Model.** TF-IDF over character {card["features"]["ngram_range"][0]}-{card["features"]["ngram_range"][1]}-grams
of the normalised text between boundary words (`xxbos … xxeos`, first {card["features"]["max_model_words"]} words),
pruned to the {card["features"]["vocabulary_size"]:,} n-grams with the largest weights, then logistic regression
(C={card["classifier"]["C"]}, balanced classes). Exported with skl2onnx; the L2 normaliser and idf
product are rewritten into faster standard ops, and a parity check against scikit-learn
(max |difference| {card["parity_max_abs_diff"]:.1e} on every training row) guards the export.
File: `model/softack.onnx`, {card["model_bytes"]:,} bytes; the threshold travels inside it as metadata.

**Threshold.** {card["threshold"]:.4f}: {card["threshold_rule"]}.

**Training data.** `data/utterances.csv` only ({card["rows"]["total"]:,} rows written for this project;
sha256 `{card["training_data_sha256"][:16]}…`), split by a hash of the normalised text:
{card["rows"]["train"]:,} train, {card["rows"]["heldout"]:,} held out. No SwDA or other corpus text.

**Held-out split (rules + model):** false interrupt {held["false_interrupt"]:.1%}, missed interrupt
{held["missed_interrupt"]:.1%} (n={held["n"]}). The threshold is set so that interruptions are
rarely missed; the held-out backchannels were written to include hard cases (echo questions,
hedged agreement, assessments, fillers before words), and that is where the price is paid:

{chr(10).join(categories)}

**Evaluation** (`make eval`; judged as if the agent were speaking, final transcripts; false
interrupt / missed interrupt). SwDA is the Switchboard Dialog Act corpus, validation split,
turn-initial utterances mapped as in the label policy: speech nobody on this project wrote.
SwDA's training split was used as a development set for design choices (features, pruning,
threshold rule); the validation split only for reporting.

{chr(10).join(table)}

Confusion matrices: `{eval_dir.name}/report.md` and `{eval_dir.name}/confusion.png`.

**Limits.** Text only: the same words can be a backchannel or an answer ("yeah" to a question, "okay"
closing a call) and the model cannot hear prosody or see the agent's last sentence. It is English
only: text in another script is not scored and interrupts (never dropped). Keywords always interrupt, so
"oh no" (sympathy) and "no way" (surprise) stop the agent unless "no way" is added to the soft-acks.

**Versions.** Python {v["python"]}, scikit-learn {v["scikit-learn"]}, skl2onnx {v["skl2onnx"]},
onnxruntime {v["onnxruntime"]}, numpy {v["numpy"]}.
"""
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="the .onnx to evaluate (default: the shipped one)")
    ap.add_argument("--corpus", type=Path, default=None, help="a SwDA-style corpus folder (default: ../shared/corpora/swda/val)")
    ap.add_argument("--out", type=Path, default=ROOT / "model" / "eval")
    args = ap.parse_args(argv)

    systems = build_systems(args.model)
    _, heldout = split(load_data())
    datasets: dict[str, list[Row]] = {"held-out (data/)": heldout}
    corpus = args.corpus or (DEFAULT_SWDA if DEFAULT_SWDA.is_dir() else None)
    if corpus is not None:
        datasets[f"{corpus.parent.name}/{corpus.name} raw"] = load_swda(corpus)
        datasets[f"{corpus.parent.name}/{corpus.name} ASR-style"] = load_swda(corpus, asr=True)

    results = {name: evaluate(systems, rows) for name, rows in datasets.items()}

    lines = ["# softack offline evaluation", "",
             "Judged as if the agent were speaking, on final transcripts. Rates: false interrupt = "
             "backchannels that would stop the agent / all backchannels; missed = interruptions the "
             "agent would talk over / all interruptions.", ""]
    header = "| system | " + " | ".join(f"{n} (n={len(datasets[n])}): false int. / missed" for n in datasets) + " |"
    lines += [header, "|---" * (len(datasets) + 1) + "|"]
    for s in systems:
        cells = [f"{results[n][s.name]['false_interrupt']:.1%} / {results[n][s.name]['missed_interrupt']:.1%}" for n in datasets]
        lines.append(f"| {s.name} | " + " | ".join(cells) + " |")
    lines.append("")
    for n in datasets:
        lines += [f"## {n}: confusion matrices (rows true, columns predicted: ignore, interrupt)", ""]
        for s in systems:
            r = results[n][s.name]
            lines.append(f"- {s.name}: [[{r['tn']}, {r['fp']}], [{r['fn']}, {r['tp']}]]  "
                         f"accuracy {r['accuracy']:.1%}")
        lines += ["", f"Worst errors of rules + model on {n}:", "```"]
        lines += worst_errors(datasets[n], results[n]["softack: rules + model"]) or ["(none)"]
        lines += ["```", ""]
    report = "\n".join(lines)
    print(report)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(report + "\n")
    figures = {n: {s: {k: v for k, v in r.items() if not k.startswith("_")} for s, r in res.items()}
               for n, res in results.items()}
    (args.out / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    plot(results, args.out / "confusion.png", "softack: rules + model")
    print(f"wrote {args.out}/report.md, results.json, confusion.png")
    card_json = ROOT / "model" / "softack.json"
    if args.model is None and args.out == ROOT / "model" / "eval" and card_json.is_file():
        table = [line for line in lines if line.startswith("|")]
        categories = by_category(heldout, results["held-out (data/)"]["softack: rules + model"])
        write_model_card(ROOT / "model" / "MODEL_CARD.md", json.loads(card_json.read_text()), table, categories, args.out)
        print("wrote model/MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
