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
from softack.normalize import normalize, normalize_words
from softack.onnx_model import OnnxClassifier
from softack.rules import RuleMatcher, RuleVerdict

from .prepare import CONTEXT_FILE, INTENTS, ROOT, Row, load_context, load_data, load_swda, split
from .train import rates

DEFAULT_SWDA = ROOT.parent / "shared" / "corpora" / "swda" / "val"
SEED_SOFT_ACKS = frozenset({"okay", "yeah", "uhhuh", "ok", "hmm", "right"})
WORDS_ALONE = "softack: rules + model"  # the caller's words alone (no agent line)
WITH_CONTEXT = "softack: rules + model + context"
UTTERANCE_SET = "held-out utterances (data/utterances.csv)"
CONTEXT_SET = "held-out context (data/context.csv)"
CONTEXT_MARK = f"## {CONTEXT_SET}: what the agent's line buys"
INTENT_MARK = "<!-- intents -->"  # the full decision, reading the agent's line


def _seed_words(text: str) -> list[str]:
    # The original design's matcher: lowercase, punctuation (hyphens too) deleted, split on spaces.
    return re.sub(r"[^a-z0-9' ]", "", text.lower()).split()


@dataclass
class System:
    name: str
    predict: Callable[[Row], tuple[int, float | None]]  # row -> (1 = interrupt, score or None)


def build_systems(model_path: Path | None) -> tuple[list[System], BackchannelFilter]:
    """The systems compared, and the full decision's filter."""
    classifier = OnnxClassifier(model_path)
    matcher = RuleMatcher(SoftAckConfig())
    pipeline = BackchannelFilter(SoftAckConfig(), classifier)

    def seed_rule(row: Row):
        words = _seed_words(row.text)
        return int(not (words and all(w in SEED_SOFT_ACKS for w in words))), None

    def min_words(k: int):
        return lambda row: (int(len(_seed_words(row.text)) >= k), None)

    def rules_only(row: Row):
        # Undecided text interrupts: what the gate does when no model can be loaded.
        return int(matcher.match(normalize_words(row.text)).verdict is not RuleVerdict.SOFT_ACK), None

    def model_only(row: Row):
        score = classifier.score(normalize(row.text))
        return int(score >= classifier.threshold), score

    def words_alone(row: Row):
        d = pipeline.decide(row.text, "speaking", final=True)
        return int(d.action is Action.INTERRUPT), d.score

    def with_context(row: Row):
        d = pipeline.decide(row.text, "speaking", final=True, context=row.context)
        return int(d.action is Action.INTERRUPT), d.score

    return [
        System("baseline: seed soft-ack rule", seed_rule),
        System("baseline: min_words=2", min_words(2)),
        System("baseline: min_words=3", min_words(3)),
        System("softack: rules only", rules_only),
        System("softack: model only", model_only),
        System(WORDS_ALONE, words_alone),
        System(WITH_CONTEXT, with_context),
    ], pipeline


def evaluate(systems: list[System], rows: list[Row]) -> dict[str, dict]:
    y = np.array([r.y for r in rows])
    out = {}
    for s in systems:
        preds, scores = zip(*(s.predict(r) for r in rows)) if rows else ((), ())
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


def write_model_card(path: Path, card: dict, table: list[str], categories: list[str], eval_dir: Path,
                     report: list[str]) -> None:
    """model/MODEL_CARD.md from the model's own metadata and this evaluation, so the two never disagree."""
    held = card["heldout"]["pipeline"]
    v = card["versions"]
    rows = card["rows"]
    trained_on = card["trained_on"]
    corpus_note = (
        f"It also trained on a corpus ({trained_on.split('+', 1)[1].strip()}, {rows.get('corpus', 0):,} rows): "
        "the SwDA figures below are then not speech the model never saw."
        if "+" in trained_on else "No SwDA or other corpus text was trained on."
    )
    context_section = report[report.index(CONTEXT_MARK) + 2 : report.index(INTENT_MARK)] if CONTEXT_MARK in report else []
    intent_start = next(i for i, ln in enumerate(report) if ln.startswith("## Intent"))
    intent_heading = report[intent_start].removeprefix("## Intent: ")
    intent_table = report[intent_start + 2 : report.index("", intent_start + 2)]
    text = f"""# Model card: softack interruption classifier

**What it does.** Given what a user said while a voice agent was speaking (normalised text) and,
when known, the agent's current line split where the user began to speak (`said`: heard,
`unsaid`: not yet played), returns P(intent) over {len(card["classifier"]["classes"])} intents
({", ".join(card["classifier"]["classes"])}). P(interrupt) = 1 − P(BACKCHANNEL) is compared with the
threshold; the intent of an interruption is the likeliest of the others. It runs after the
deterministic rules (soft-ack list, interrupt keywords) for text they leave undecided, and for a
soft-ack right after the agent's question (which may be an answer).

**Model.** TF-IDF over character {card["features"]["ngram_range"][0]}-{card["features"]["ngram_range"][1]}-grams,
then one multinomial logistic regression (C={card["classifier"]["C"]}; {card["classifier"]["weighting"]}).
The input is the caller's words between boundary words (first {card["features"]["max_model_words"]} words),
plus {card["features"]["context"]} — each copy in its own alphabet, so a linear model can weigh
"yes after a question" apart from "yes mid-statement" (`runtime/softack/context.py`). Pruned to the
{card["features"]["vocabulary_size"]:,} n-grams with the largest weights. Exported with skl2onnx; the L2 normaliser
and idf product are rewritten into faster standard ops, and a parity check against scikit-learn
(max |difference| {card["parity_max_abs_diff"]:.1e} on every row, with context) guards the export.
File: `model/softack.onnx`, {card["model_bytes"]:,} bytes; the threshold, the classes and
{card["interim_prefixes"]} interim prefixes (first words of backchannels, "of" of "of course", on which an
interim model interruption waits for the next words) travel inside it as metadata.

**Thresholds.** {card["threshold"]:.4f} on the caller's words alone, {card.get("threshold_context", card["threshold"]):.4f}
with the agent's line: {card["threshold_rule"]}.

**Training data.** Trained on: {trained_on}. `data/utterances.csv` and `data/context.csv`
({rows["total"]:,} rows written for this project, {rows["context"]:,} of them with the agent's line;
sha256 `{card["training_data_sha256"][:16]}…` and `{(card.get("context_data_sha256") or "-")[:16]}…`),
split by a hash (of the normalised words; of the pair for context pairs): {rows["train"]:,} train,
{rows["heldout"]:,} held out. {corpus_note}

**Held-out split (rules + model, every held-out row):** false interrupt {held["false_interrupt"]:.1%},
missed interrupt {held["missed_interrupt"]:.1%} (n={held["n"]}). The threshold is set so that
interruptions are rarely missed; held-out backchannels of `utterances.csv` were written to include
hard cases, and that is where the price is paid:

{chr(10).join(categories)}

**What context buys** (held-out rows of `data/context.csv`; pairs are the same caller words with
opposite labels after different agent lines; false interrupt / missed for both systems are in the
evaluation table below):

{chr(10).join(context_section) or "(no context data)"}

Where it still fails, with context: nods after a question the agent answers itself when the answer
does not open with a recognisable word ("What counts as full time? For undergraduates, …"), short
echoes of a detail during a read-back that the model takes for an answer, choices or acceptances
said while the agent is still listing or pitching (the labels themselves were the least agreed
on by a blind second reader), and sympathy with "no" in it ("oh no"), which the keyword list stops
by design.

**Intent**, {intent_heading} (rows: true intent; columns: the intent the full decision named). Picture:
`{eval_dir.name}/intents.png`.

{chr(10).join(intent_table)}

**Evaluation** (`make eval`; judged as if the agent were speaking, final transcripts; false
interrupt / missed interrupt). SwDA is the Switchboard Dialog Act corpus, validation split,
turn-initial utterances mapped as in the label policy: speech nobody on this project wrote; with
context, `said` is the other speaker's previous utterance. SwDA's training split was used as a
development set for design choices; the validation split only for reporting.

{chr(10).join(table)}

Confusion matrices: `{eval_dir.name}/report.md` and `{eval_dir.name}/confusion.png`.

**Limits.** No prosody: a flat "yeah" and a rising "yeah?" are the same text. Context is the agent's
text, cut by playback timing: a question is "heard" when `said` ends with it or at most two words
after it; a question the agent answers itself is recognised by the words that follow it (a "why"
question the agent talks on after, or an answer opening such as "Well," or "It is,") or learnt
from the first unsaid words, and is the likeliest place for a wrong "answer". English only: text
in another script is not scored and interrupts (never dropped). Keywords always interrupt, so "oh
no" (sympathy) stops the agent unless the deployer edits the lists; "no way" (surprise) is a
soft-ack phrase on the default list, though an interim "no" stops the agent before "way" arrives.

**Versions.** Python {v["python"]}, scikit-learn {v["scikit-learn"]}, skl2onnx {v["skl2onnx"]},
onnxruntime {v["onnxruntime"]}, numpy {v["numpy"]}.
"""
    path.write_text(text)


def pairs_right(rows: list[Row], pred: np.ndarray) -> tuple[int, int]:
    """(pairs with both sides right, pairs): the same caller words, one ignore and one interrupt."""
    sides: dict[str, list[bool]] = {}
    for row, p in zip(rows, pred):
        if row.pair:
            sides.setdefault(row.pair, []).append(bool(p == row.y))
    complete = [v for v in sides.values() if len(v) == 2]
    return sum(all(v) for v in complete), len(complete)


def intent_confusion(filt: BackchannelFilter, rows: list[Row]) -> tuple[np.ndarray, float]:
    """Rows true intent, columns decided intent (the full decision, with context); and accuracy."""
    index = {name: i for i, name in enumerate(INTENTS)}
    m = np.zeros((len(INTENTS), len(INTENTS)), dtype=int)
    for r in rows:
        d = filt.decide(r.text, "speaking", final=True, context=r.context)
        m[index[r.intent], index[d.intent.value]] += 1
    return m, float(np.trace(m) / max(1, m.sum()))


def intent_table(m: np.ndarray) -> list[str]:
    short = [i.replace("_REQUEST", "").replace("BACKCHANNEL", "BACKCH.") for i in INTENTS]
    lines = ["| true \\ decided | " + " | ".join(short) + " | recall |", "|---" * (len(INTENTS) + 2) + "|"]
    for i, name in enumerate(INTENTS):
        recall = m[i, i] / max(1, m[i].sum())
        lines.append(f"| {name} | " + " | ".join(str(v) for v in m[i]) + f" | {recall:.0%} |")
    return lines


def plot_intents(m: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate = m / np.maximum(1, m.sum(axis=1, keepdims=True))
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(m):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", color="white" if rate[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(INTENTS)), INTENTS, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(INTENTS)), INTENTS, fontsize=8)
    ax.set_xlabel("decided")
    ax.set_ylabel("true")
    ax.set_title("intent, held-out rows of data/ (with context where the row has it)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="the .onnx to evaluate (default: the shipped one)")
    ap.add_argument("--corpus", type=Path, default=None, help="a SwDA-style corpus folder (default: ../shared/corpora/swda/val)")
    ap.add_argument("--out", type=Path, default=ROOT / "model" / "eval")
    args = ap.parse_args(argv)

    systems, full_filter = build_systems(args.model)
    _, heldout = split(load_data())
    _, heldout_ctx = split(load_context()) if CONTEXT_FILE.is_file() else ([], [])
    datasets: dict[str, list[Row]] = {UTTERANCE_SET: heldout}
    if heldout_ctx:
        datasets[CONTEXT_SET] = heldout_ctx
    corpus = args.corpus or (DEFAULT_SWDA if DEFAULT_SWDA.is_dir() else None)
    if corpus is not None:
        datasets[f"{corpus.parent.name}/{corpus.name} raw"] = load_swda(corpus)
        datasets[f"{corpus.parent.name}/{corpus.name} ASR-style"] = load_swda(corpus, asr=True)

    results = {name: evaluate(systems, rows) for name, rows in datasets.items()}

    lines = ["# softack offline evaluation", "",
             "Judged as if the agent were speaking, on final transcripts. Rates: false interrupt = "
             "backchannels that would stop the agent / all backchannels; missed = interruptions the "
             "agent would talk over / all interruptions. `rules + model` reads the caller's words alone; "
             "`+ context` also reads the agent's line (context rows: `said`/`unsaid`; SwDA: the other "
             "speaker's previous utterance as `said`; utterance rows have none, so both agree there).", ""]
    header = "| system | " + " | ".join(f"{n} (n={len(datasets[n])}): false int. / missed" for n in datasets) + " |"
    lines += [header, "|---" * (len(datasets) + 1) + "|"]
    for s in systems:
        cells = [f"{results[n][s.name]['false_interrupt']:.1%} / {results[n][s.name]['missed_interrupt']:.1%}" for n in datasets]
        lines.append(f"| {s.name} | " + " | ".join(cells) + " |")
    lines.append("")
    figures_extra: dict[str, object] = {}
    if heldout_ctx:
        lines += [CONTEXT_MARK, ""]
        for name in (WORDS_ALONE, WITH_CONTEXT):
            right, n_pairs = pairs_right(heldout_ctx, results[CONTEXT_SET][name]["_pred"])
            figures_extra[f"pairs_both_right: {name}"] = {"right": right, "pairs": n_pairs}
            lines.append(f"- {name}: both sides right on {right}/{n_pairs} pairs ({right / max(1, n_pairs):.1%})")
        lines.append("")
        by_kind = by_category(heldout_ctx, results[CONTEXT_SET][WITH_CONTEXT])
        lines += ["Errors of the full decision by the agent's line kind:", "", *by_kind, ""]
    m, accuracy = intent_confusion(full_filter, heldout + heldout_ctx)
    figures_extra["intent_accuracy"] = accuracy
    figures_extra["intent_confusion"] = {"labels": list(INTENTS), "matrix": m.tolist()}
    lines += [INTENT_MARK, ""]
    lines += [f"## Intent: held-out rows of data/ (n={int(m.sum())}), accuracy {accuracy:.1%}", "", *intent_table(m), ""]
    for n in datasets:
        lines += [f"## {n}: confusion matrices (rows true, columns predicted: ignore, interrupt)", ""]
        for s in systems:
            r = results[n][s.name]
            lines.append(f"- {s.name}: [[{r['tn']}, {r['fp']}], [{r['fn']}, {r['tp']}]]  "
                         f"accuracy {r['accuracy']:.1%}")
        lines += ["", f"Worst errors of the full decision on {n}:", "```"]
        lines += worst_errors(datasets[n], results[n][WITH_CONTEXT]) or ["(none)"]
        lines += ["```", ""]
    report = "\n".join(lines)
    print(report)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(report + "\n")
    figures = {n: {s: {k: v for k, v in r.items() if not k.startswith("_")} for s, r in res.items()}
               for n, res in results.items()}
    figures["context"] = figures_extra
    (args.out / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    plot(results, args.out / "confusion.png", WITH_CONTEXT)
    plot_intents(m, args.out / "intents.png")
    print(f"wrote {args.out}/report.md, results.json, confusion.png, intents.png")
    card_json = ROOT / "model" / "softack.json"
    if args.model is None and args.out == ROOT / "model" / "eval" and card_json.is_file():
        table = [line for line in lines if line.startswith("|")][: len(systems) + 2]
        categories = by_category(heldout, results[UTTERANCE_SET][WITH_CONTEXT])
        write_model_card(ROOT / "model" / "MODEL_CARD.md", json.loads(card_json.read_text()), table, categories,
                         args.out, lines)
        print("wrote model/MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
