"""The offline demo: the grace-period gate against stock LiveKit settings, in a real AgentSession.

Run ``python -m softack.demo`` (``make demo``). No keys, no network: the VAD, STT and LLM are
scripted and the TTS makes a tone locally (``softack.testing``); the ``AgentSession`` and its
interruption logic are LiveKit's own. Each scenario runs three times, at the same time:

- with the gate (``SoftAckAgent`` + ``softack.gate.turn_handling()``);
- stock VAD interruption with LiveKit's defaults (``{"mode": "vad"}``: min_duration 0.5 s,
  resume_false_interruption with a 2 s timeout);
- stock with ``min_interruption_words=2``.

Scenarios j-l are about the agent's own words ("yes" right after "Shall I book it?" answers;
"yes" mid-statement nods; a "yeah" begun before the question was heard nods): every session's
transcript is paced with its audio as a room's is, and the gate reads what the caller had heard.

For every scenario it prints the gate's timeline (voice onsets, transcripts, each decision with its
reason and score, what the agent's audio did), then a table of false interruptions, missed
interruptions and audio gaps for the three set-ups.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from livekit.agents import Agent

from .config import SoftAckConfig
from .decision import BackchannelFilter
from .gate import SoftAckAgent, turn_handling
from .onnx_model import ModelLoadError
from .testing import Scenario, ScenarioRun, TranscriptStep, UserSpeech, run_scenario

INSTRUCTIONS = "You are a helpful phone assistant for a mobile network."

# 140 characters of tone: about 8.4 s of agent speech.
MONOLOGUE = (
    "Our premium plan includes unlimited calls, free international roaming, a new handset "
    "every two years, and priority support around the clock."
)

# The answer-vs-nod lines. At 0.06 s of tone per character the caller hears "Shall I book it?" end
# at about 2.3 s (LiveKit paces the transcript with the audio), and "within five days" at 2.4-3.4 s.
BOOK = "I found a 7 pm flight. Shall I book it? I can also look at later ones."
REFUND = "The refund goes back to your card within five days, and you'll get an email when it posts."

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="a",
        title='agent speaking; the user says "okay", later "yeah", later "uh-huh"',
        agent_says=MONOLOGUE,
        user=(
            UserSpeech.say("okay", at=1.0),
            UserSpeech.say("yeah", at=2.6),
            UserSpeech.say("uh-huh", at=4.6),
        ),
        expect=("ignore", "ignore", "ignore"),
        duration=9.0,
    ),
    Scenario(
        name="b",
        title='agent silent; the user says "yeah"',
        agent_says="Hi, how can I help?",
        user=(UserSpeech.say("yeah", at=2.0),),
        expect=("turn",),
        duration=5.0,
        replies={"yeah": "Great, what would you like to do?"},
    ),
    Scenario(
        name="c",
        title='agent speaking; the user says "no stop"',
        agent_says=MONOLOGUE,
        user=(UserSpeech.say("no stop", at=1.5),),
        expect=("interrupt",),
        duration=5.0,
        replies={"stop": "Sorry, go ahead."},
    ),
    Scenario(
        name="d",
        title='agent speaking; interims "yeah" > "yeah okay" > "yeah okay but" > "yeah okay but wait"',
        agent_says=MONOLOGUE,
        user=(
            UserSpeech(
                start=1.0,
                end=2.6,
                label="yeah okay but wait",
                transcripts=(
                    TranscriptStep(1.3, "yeah"),
                    TranscriptStep(1.7, "yeah okay"),
                    TranscriptStep(2.1, "yeah okay but"),
                    TranscriptStep(2.5, "yeah okay but wait"),
                    TranscriptStep(2.9, "yeah okay but wait", final=True),
                ),
            ),
        ),
        expect=("interrupt",),
        duration=5.5,
        replies={"wait": "Sure, what is it?"},
    ),
    Scenario(
        name="e",
        title='agent speaking; "what\'s the price of the blue one" (no keyword, no soft-ack)',
        agent_says=MONOLOGUE,
        user=(UserSpeech.say("what's the price of the blue one", at=1.5),),
        expect=("interrupt",),
        duration=6.5,
        replies={"price": "The blue one is forty dollars."},
    ),
    Scenario(
        name="f",
        title='slow STT (text 800 ms after voice onset): "yeah", later "stop"',
        agent_says=MONOLOGUE,
        user=(
            # the VAD reports the voice 50-60 ms after it begins: text 880 ms after the voice
            # begins is 820 ms after the VAD onset
            UserSpeech.say("yeah", at=1.0, first_text_after=0.88),
            UserSpeech.say("stop", at=3.5, first_text_after=0.88),
        ),
        expect=("ignore", "interrupt"),
        duration=7.0,
        replies={"stop": "Sorry, go ahead."},
    ),
    Scenario(
        name="g",
        title="voice with no transcript: a laugh (0.8 s), later 3 s of speech the STT misses",
        agent_says=MONOLOGUE,
        user=(
            UserSpeech.sound(at=1.0, duration=0.8, label="(laughs)"),
            UserSpeech.sound(at=5.0, duration=3.0, label="(3 s of speech, no transcript)"),
        ),
        expect=("ignore", "interrupt"),
        duration=9.0,
    ),
    Scenario(
        name="h",
        title='the agent ends on a question; the user\'s "yeah" overlaps its last second',
        agent_says="Would you like me to book the blue one for you?",
        # the question plays 0.0-2.8 s; "yeah" is spoken 1.8-2.15 s, in its last second
        user=(UserSpeech.say("yeah", at=1.8),),
        expect=("turn",),
        duration=5.5,
        replies={"yeah": "Great, it's booked."},
    ),
    Scenario(
        name="j",
        title='agent: "...Shall I book it? I can also look at later ones."; "yes" right after the question',
        agent_says=BOOK,
        user=(UserSpeech.say("yes", at=2.4),),
        expect=("interrupt",),
        duration=5.5,
        replies={"yes": "Done, it's booked."},
    ),
    Scenario(
        name="k",
        title='agent: "The refund goes back to your card within five days, and..."; "yes" mid-statement',
        agent_says=REFUND,
        user=(UserSpeech.say("yes", at=2.5),),
        expect=("ignore",),
        duration=7.0,
    ),
    Scenario(
        name="l",
        title='"yeah" begun before "Shall I book it?" is heard, its text only after (slow STT)',
        agent_says=BOOK,
        # the voice starts at 1.85 s ("...Shall I" heard), the transcript comes at 2.4 s, after the question
        user=(UserSpeech.say("yeah", at=1.85, stt_delay=0.6),),
        expect=("ignore",),
        duration=5.5,
    ),
)

# Row names for the closing table.
SHORT_TITLES = {
    "a": "okay / yeah / uh-huh while the agent talks",
    "b": "yeah, agent silent",
    "c": "no stop",
    "d": "yeah > yeah okay > ... but wait",
    "e": "what's the price of the blue one",
    "f": "slow STT: yeah, later stop",
    "g": "a laugh; 3 s of speech with no text",
    "h": "yeah to the agent's closing question",
    "j": "yes right after 'Shall I book it?'",
    "k": "yes mid-statement (refund explanation)",
    "l": "yeah begun before the question is heard",
}

# the scenarios whose outcome depends on what the caller had heard of the agent's line
CONTEXT_SCENARIOS = frozenset("hjkl")

STOCK_DEFAULTS = {"turn_detection": "vad", "interruption": {"mode": "vad"}}
STOCK_TWO_WORDS = {"turn_detection": "vad", "interruption": {"mode": "vad", "min_words": 2}}
CONFIGS = (
    ("softack gate", "gate"),
    ("stock VAD defaults", "stock"),
    ("stock min_words=2", "stock2"),
)


def _filter(config: SoftAckConfig | None = None) -> BackchannelFilter:
    config = config or SoftAckConfig()
    try:
        return BackchannelFilter(config)
    except ModelLoadError as e:
        print(f"note: {e}; the gate runs on its rules alone", file=sys.stderr)
        return BackchannelFilter(config, classifier=False)


async def _run(scenario: Scenario, kind: str, bf: BackchannelFilter) -> ScenarioRun:
    if kind == "gate":
        agent: Agent = SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=bf)
        handling = turn_handling(turn_detection="vad")
    else:
        agent = Agent(instructions=INSTRUCTIONS)
        handling = STOCK_DEFAULTS if kind == "stock" else STOCK_TWO_WORDS
    # the transcript paced with the audio, as a room's output is: the gate reads the agent's line
    return await run_scenario(
        scenario, agent, turn_handling=handling, label=kind, session_options={"sync_transcript": True}
    )


async def _two_sessions(bf_default: BackchannelFilter) -> tuple[ScenarioRun, ScenarioRun]:
    """Scenario i: two sessions in one process; "roger" is a soft-ack in one, a keyword in the other."""
    base = SoftAckConfig()
    radio = bf_default.__class__(
        base.with_soft_acks([*base.soft_acks, "roger"]), bf_default.classifier or False
    )
    strict = bf_default.__class__(
        base.with_keywords([*base.keywords, "roger"]), bf_default.classifier or False
    )
    scenario = Scenario(
        name="i",
        title='two sessions at once; "roger" is a soft-ack in A, an interrupt keyword in B',
        agent_says=MONOLOGUE,
        user=(UserSpeech.say("roger", at=1.5),),
        expect=("ignore",),
        duration=4.5,
    )
    scenario_b = Scenario(**{**scenario.__dict__, "expect": ("interrupt",)})
    return await asyncio.gather(
        run_scenario(
            scenario,
            SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=radio),
            turn_handling=turn_handling(turn_detection="vad"),
            label="A",
        ),
        run_scenario(
            scenario_b,
            SoftAckAgent(instructions=INSTRUCTIONS, backchannel_filter=strict),
            turn_handling=turn_handling(turn_detection="vad"),
            label="B",
        ),
    )


# ------------------------------------------------------------------------------------- printing


def _timeline(run: ScenarioRun) -> list[str]:
    lines = []
    for e in run.offline.full_timeline():
        if e.source == "user":
            continue  # the VAD lines say the same
        what = e.what if len(e.what) <= 100 else e.what[:96] + ' ..."'
        lines.append(f"   {e.t:6.2f}s  {e.source:<8} {what}")
    return lines


def _verdict(run: ScenarioRun) -> str:
    parts = []
    for o in run.outcomes:
        name = o.speech.label or "utterance"
        if o.false_interruption:
            parts.append(f'"{name}": FALSE INTERRUPTION')
        elif o.missed:
            parts.append(f'"{name}": MISSED')
        elif o.expected == "ignore" and o.gap:
            parts.append(f'"{name}": agent paused for {o.gap:.1f} s, then went on')
        elif o.expected == "ignore":
            parts.append(f'"{name}": ignored, agent played on')
        elif o.expected == "interrupt":
            when = ""
            if o.stopped_at is not None:
                onset = run.offline.clock.wall(o.speech.start)
                when = f" {o.stopped_at - onset:.2f} s after the voice began"
                if o.decisive_text_at is not None:
                    when += f", {1e3 * (o.stopped_at - o.decisive_text_at):.0f} ms after the deciding transcript"
                elif o.first_text_at is None or o.stopped_at < o.first_text_at:
                    when += ", before any words"
            parts.append(f'"{name}": agent stopped{when}')
        else:
            parts.append(f'"{name}": user turn, agent replied')
    gaps = run.gaps
    parts.append(
        f"{len(gaps)} audio gap(s) ({sum(g.duration for g in gaps):.2f} s)" if gaps else "no audio gap"
    )
    return "; ".join(parts)


def _cell(runs: Sequence[ScenarioRun]) -> str:
    fi = sum(r.false_interruptions for r in runs)
    mi = sum(r.missed_interruptions for r in runs)
    gaps = sum(len(r.gaps) for r in runs)
    secs = sum(r.gap_seconds for r in runs)
    gap = f"{gaps} ({secs:.1f}s)" if gaps else "0"
    return f"{fi:>3} {mi:>4}  {gap:<9}"


def _happened(run: ScenarioRun) -> str:
    """What the gate did, in a few words (with the intent it named)."""
    parts = []
    for o in run.outcomes:
        if o.stopped_at is not None:
            intents = [i.intent.value for i in run.interruptions]
            parts.append("stopped" + (f" ({intents[0]})" if intents else ""))
        elif o.reached_llm:
            parts.append("turn")
        else:
            ctx = next((b.context for b in run.backchannels if b.transcript == o.speech.label), None)
            parts.append("played on" + (f" (nod, {ctx.cue})" if ctx is not None else ""))
    return ", ".join(parts)


def _table(results: dict[str, dict[str, ScenarioRun]]) -> list[str]:
    head = f"{'scenario':<44}" + "".join(f" | {label:<19}" for label, _ in CONFIGS) + " | gate: what happened"
    sub = f"{'':<44}" + "".join(f" | {'FI':>3} {'MI':>4}  {'gaps':<9}" for _ in CONFIGS) + " |"
    rule = "-" * len(head)
    lines = [head, sub, rule]
    for name, runs in results.items():
        title = SHORT_TITLES.get(name, runs["gate"].scenario.title)[:42]
        lines.append(
            f"{name + ' ' + title:<44}"
            + "".join(f" | {_cell([runs[k]]):<19}" for _, k in CONFIGS)
            + f" | {_happened(runs['gate'])[:60]}"
        )
    lines.append(rule)
    lines.append(
        f"{'total':<44}"
        + "".join(f" | {_cell([r[k] for r in results.values()]):<19}" for _, k in CONFIGS)
    )
    return lines


async def main_async(names: Sequence[str] | None = None, *, timelines: bool = True) -> int:
    started = time.time()
    bf = _filter()
    scenarios = [s for s in SCENARIOS if not names or s.name in names]
    print("softack demo: the grace-period gate inside a real LiveKit AgentSession (livekit-agents 1.8.9)")
    print("offline: scripted VAD and streaming STT, scripted LLM, a local tone for TTS; no keys, no network")
    model = "rules + model" if bf.classifier is not None else "rules only (no model file)"
    print(f"gate: {model}; stock runs use mode=vad with the echo-cancellation warm-up off, like the gate\n")

    want_i = not names or "i" in names
    # two waves: LiveKit's transcript pacing estimates the speaking rate of each line's audio on the
    # event loop when the line starts; dozens of lines starting at the same instant would delay the
    # pacing of the scenarios that turn on the agent's line (h, j-l), which therefore run on their own
    waves = [[s for s in scenarios if s.name not in CONTEXT_SCENARIOS], [s for s in scenarios if s.name in CONTEXT_SCENARIOS]]
    runs: dict[tuple[str, str], ScenarioRun] = {}
    gathered: list = []
    for k, wave in enumerate(waves):
        jobs = {(s.name, kind): _run(s, kind, bf) for s in wave for _, kind in CONFIGS}
        extra = _two_sessions(bf) if want_i and k == 0 else asyncio.sleep(0)
        gathered = await asyncio.gather(*jobs.values(), extra)
        runs.update(zip(jobs.keys(), gathered[:-1]))
        if k == 0:
            pair = gathered[-1]
    results: dict[str, dict[str, ScenarioRun]] = {}
    for (name, kind), run in runs.items():
        results.setdefault(name, {})[kind] = run

    for s in scenarios:
        gate = results[s.name]["gate"]
        print(f"== {s.name}. {s.title}")
        if timelines:
            print("\n".join(_timeline(gate)))
        print(f"   gate:               {_verdict(gate)}")
        print(f"   stock VAD defaults: {_verdict(results[s.name]['stock'])}")
        print(f"   stock min_words=2:  {_verdict(results[s.name]['stock2'])}")
        print()

    if want_i:
        a, b = pair
        print(f"== i. {a.scenario.title}")
        for run in (a, b):
            if timelines:
                print(f"   session {run.label}:")
                print("\n".join(_timeline(run)))
            print(f"   session {run.label}: {_verdict(run)}")
        print()

    print("FI = false interruptions (a backchannel stopped the agent or reached the LLM)")
    print("MI = missed interruptions (the agent talked on, or the user's words never reached the LLM)")
    print("gaps = silences inside the agent's audio (pauses), with their total length\n")
    print("\n".join(_table(results)))
    print(f"\n{len(runs) + (2 if want_i else 0)} sessions in {time.time() - started:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softack.demo", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario letters to run (default: all)")
    parser.add_argument("--no-timeline", action="store_true", help="print only the outcomes and the table")
    parser.add_argument("-v", "--verbose", action="store_true", help="softack debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose:
        logging.getLogger("softack").setLevel(logging.DEBUG)
    return asyncio.run(main_async(args.scenarios, timelines=not args.no_timeline))


if __name__ == "__main__":
    sys.exit(main())
