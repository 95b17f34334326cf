"""The rollout state machine: a pure function of (policy, state, observation, now, command) → decision.

No Django, no Ray: services load rows, call `advance`, save the new state, apply the traffic it names, and record
its events. Invariants (property-tested): stable and candidate weights always sum to 100; traffic reaches the
candidate only once all its replicas answer; an abort or a failed analysis under `rollback` ends at 100% stable;
no step is skipped unless a human promotes; a paused rollout never moves by itself. Which command a person may
give in which state is `allowed_commands`, here alone: services, the API and the console ask it.

Analysis (`analyse`) judges candidate against stable on the same window of requests with the tests of
`rollouts.statistics`: pass, fail, or inconclusive (too few requests, or a threshold crossed without significance).
An inconclusive analysis extends the step and keeps its window open, so the next one judges more requests; past
`inconclusive_limit` in a row the rollout follows `on_failure`. `failure_limit` failures in a row fail it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from .statistics import (
    Histogram,
    Names,
    Number,
    Outcome,
    Quantile,
    Verdict,
    agreement_verdict,
    error_rate_verdict,
    latency_limit_verdict,
    latency_ratio_verdict,
)


class Strategy(StrEnum):
    DIRECT = "direct"
    CANARY = "canary"
    BLUE_GREEN = "blue_green"
    SHADOW = "shadow"


class Phase(StrEnum):
    PENDING = "pending"  # candidate loading at 0%
    PROGRESSING = "progressing"  # stepping (canary), previewing (blue/green) or mirroring (shadow)
    PAUSED = "paused"  # by a person, or by a failed analysis under on_failure=pause
    WARM = "warm"  # blue/green after the switch: the old version stays loaded for an instant rollback
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # analysis failed or the deadline passed: rolled back
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED)


class Command(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    PROMOTE = "promote"
    ABORT = "abort"


@dataclass(frozen=True)
class Step:
    weight: int
    pause_s: int | None  # None: wait for a person to promote


@dataclass(frozen=True)
class Analysis:
    interval_s: int = 10
    initial_delay_s: int = 0
    min_requests: int = 20
    max_error_rate: float | None = None
    max_p99_ms: float | None = None
    max_p99_ratio: float | None = None
    min_shadow_agreement: float | None = None
    failure_limit: int = 1  # failed analyses in a row that fail the rollout
    inconclusive_limit: int = 3  # inconclusive analyses in a row that extend the step; one more follows on_failure
    max_p_value: float = 0.01  # a gate fails only on evidence this strong (one-sided tests; bounds at 1 - this)
    min_latency_delta_ms: float = 5.0  # under max_p99_ratio: a p99 this little slower is no regression (2× of 1 ms)


@dataclass(frozen=True)
class Policy:
    strategy: Strategy
    steps: tuple[Step, ...] = ()
    analysis: Analysis = field(default_factory=Analysis)
    on_failure: str = "rollback"  # or "pause"
    progress_deadline_s: int = 600
    shadow_percent: int = 100  # shadow and blue/green preview: share of requests mirrored to the candidate
    auto_promote_s: int | None = None  # blue/green and shadow: promote after this long passing; None waits
    keep_warm_s: int = 300  # blue/green: how long the old version stays loaded after the switch


@dataclass(frozen=True)
class VersionStats:
    """One version's requests of the weighted split in the window, and their latency per histogram bucket."""

    requests: int = 0
    errors: int = 0
    latency: Histogram | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p99(self) -> Quantile | None:
        return self.latency.quantile(0.99) if self.latency is not None else None


@dataclass(frozen=True)
class Observation:
    """What the monitor saw in the analysis window (since the last judged analysis or traffic change): only ever
    numbers, never a verdict."""

    candidate_ready: bool = False
    candidate_failed: str = ""  # why the candidate cannot load, when it cannot
    candidate: VersionStats = field(default_factory=VersionStats)
    stable: VersionStats = field(default_factory=VersionStats)
    shadow_requests: int = 0
    shadow_agreements: int = 0
    blind: str = ""  # why there are no numbers at all (the monitor is not running, the cluster does not answer)
    names: Names = field(default_factory=Names)  # what messages call the two versions ("v2", "v1")


@dataclass(frozen=True)
class Traffic:
    candidate_weight: int = 0
    shadow_percent: int = 0
    keep_stable_loaded: bool = True

    @property
    def stable_weight(self) -> int:
        return 100 - self.candidate_weight


@dataclass(frozen=True)
class State:
    phase: Phase
    started_at: float
    traffic: Traffic = field(default_factory=Traffic)
    step_index: int = -1  # canary: the step whose weight is live; -1 before the first
    step_started_at: float = 0.0
    next_analysis_at: float = 0.0
    failures: int = 0
    inconclusives: int = 0
    passed_since: float | None = None  # blue/green and shadow: when analyses started passing
    switched_at: float | None = None  # blue/green: when traffic moved to the candidate
    reason: str = ""


# The numbers behind an event, stored as JSON with it (RolloutEvent.data); an analysis lists each gate's numbers.
EventData = dict[str, Number | list[dict[str, Number]]]


@dataclass(frozen=True)
class Event:
    # started, ready, step, shadowing, analysis, paused, resumed, switched, succeeded, failed, aborted, refused
    kind: str
    message: str
    data: EventData = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    state: State
    events: tuple[Event, ...] = ()
    # The requests observed so far are judged (an analysis passed or failed) or were served under the old traffic:
    # the next analysis window starts after them. An inconclusive analysis keeps its window open to judge more.
    restart_window: bool = False


def start(policy: Policy, now: float) -> Decision:
    state = State(phase=Phase.PENDING, started_at=now)
    return Decision(state, (Event("started", f"{policy.strategy} rollout started; loading the candidate at 0%"),))


def advance(
    policy: Policy, state: State, observation: Observation, now: float, command: Command | None = None
) -> Decision:
    decision = decide(policy, state, observation, now, command)
    if decision.state.traffic != state.traffic and not decision.restart_window:
        return replace(decision, restart_window=True)
    return decision


def decide(
    policy: Policy, state: State, observation: Observation, now: float, command: Command | None = None
) -> Decision:
    if command is not None:
        return apply_command(policy, state, observation, now, command)
    if state.phase.terminal:
        return Decision(state)
    if state.phase == Phase.PAUSED:
        return Decision(state)
    if state.phase == Phase.PENDING:
        return when_pending(policy, state, observation, now)
    if state.phase == Phase.WARM:
        if now - (state.switched_at or now) >= policy.keep_warm_s:
            return finish(state, "the old version's warm window ended")
        return Decision(state)
    return when_progressing(policy, state, observation, now)


COMMANDS_IN: dict[Command, tuple[Phase, ...]] = {
    Command.PAUSE: (Phase.PENDING, Phase.PROGRESSING),
    Command.RESUME: (Phase.PAUSED,),
    Command.PROMOTE: (Phase.PROGRESSING, Phase.PAUSED),
    Command.ABORT: (Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED, Phase.WARM),
}
COMMANDS_WHEN = {
    Command.PAUSE: "only a pending or progressing rollout can be paused",
    Command.RESUME: "only a paused rollout can be resumed",
    Command.PROMOTE: "only a progressing or paused rollout can be promoted (a pending one once its candidate answers)",
    Command.ABORT: "only an active rollout can be aborted",
}


def allowed_commands(state: State, observation: Observation | None = None) -> dict[Command, str | None]:
    """Every command, with None where the state allows it and, where it does not, the reason for a person.

    The one place that says which command is legal when: services refuse the others with this reason, the API lists
    the allowed ones on every rollout, and the console shows exactly those. Without an observation the answer rests
    on the state alone; with one, promote also needs the candidate loaded on every replica."""
    allowed: dict[Command, str | None] = {}
    for command, phases in COMMANDS_IN.items():
        if state.phase in phases:
            allowed[command] = None
        elif state.phase.terminal:
            allowed[command] = f"cannot {command.value}: the rollout is over ({state.phase.value})"
        else:
            allowed[command] = f"cannot {command.value}: the rollout is {state.phase.value}; {COMMANDS_WHEN[command]}"
    if allowed[Command.PROMOTE] is None and observation is not None and not observation.candidate_ready:
        allowed[Command.PROMOTE] = "cannot promote: the candidate is not loaded on every replica"
    return allowed


def apply_command(policy: Policy, state: State, observation: Observation, now: float, command: Command) -> Decision:
    """A person's command, or a `refused` event with the reason `allowed_commands` gives, and no change."""
    if refusal := allowed_commands(state, observation)[command]:
        return Decision(state, (Event("refused", refusal),))
    if command == Command.ABORT:
        return roll_back(state, Phase.ABORTED, "aborted by a person: all traffic back on the stable version")
    if command == Command.PAUSE:
        return Decision(replace(state, phase=Phase.PAUSED, reason="paused by a person"), (Event("paused", "paused"),))
    if command == Command.RESUME:
        resumed_phase = Phase.PROGRESSING if state.step_index >= 0 or state.traffic.shadow_percent else Phase.PENDING
        resumed = replace(
            state, phase=resumed_phase, reason="", failures=0, inconclusives=0, step_started_at=now,
            next_analysis_at=now + policy.analysis.initial_delay_s,
        )  # fmt: skip
        return Decision(resumed, (Event("resumed", "resumed"),))
    # PROMOTE: skip every remaining step (allowed_commands made sure the candidate answers).
    return switch_or_finish(policy, state, now, "promoted by a person")


def when_pending(policy: Policy, state: State, observation: Observation, now: float) -> Decision:
    if observation.candidate_failed:
        return fail(policy, state, f"the candidate cannot load: {observation.candidate_failed}", force=True)
    if not observation.candidate_ready:
        if now - state.started_at >= policy.progress_deadline_s:
            message = f"the candidate was not ready within the progress deadline ({policy.progress_deadline_s} s)"
            return fail(policy, state, message, force=True)
        return Decision(state)
    ready = Event("ready", "the candidate is loaded on every replica")
    analysis_at = first_analysis_at(policy, now)
    if policy.strategy == Strategy.DIRECT:
        return switch_or_finish(policy, state, now, "direct rollout: the candidate answers", extra=(ready,))
    if policy.strategy == Strategy.CANARY:
        first = policy.steps[0]
        stepped = replace(
            state, phase=Phase.PROGRESSING, step_index=0, step_started_at=now, next_analysis_at=analysis_at,
            traffic=Traffic(candidate_weight=first.weight),
        )  # fmt: skip
        return Decision(
            stepped, (ready, Event("step", f"step 1: {first.weight}% to the candidate", {"weight": first.weight}))
        )
    mirrored = replace(
        state, phase=Phase.PROGRESSING, step_started_at=now, next_analysis_at=analysis_at,
        traffic=Traffic(candidate_weight=0, shadow_percent=policy.shadow_percent),
    )  # fmt: skip
    what = "preview" if policy.strategy == Strategy.BLUE_GREEN else "shadow"
    return Decision(mirrored, (ready, Event("shadowing", f"{what}: {policy.shadow_percent}% of requests mirrored")))


def first_analysis_at(policy: Policy, now: float) -> float:
    """After traffic moves, the first analysis waits a whole interval: it judges requests served at the new weights
    (traffic takes a moment to move, and the monitor's samples trail it by a second or two)."""
    return now + policy.analysis.initial_delay_s + policy.analysis.interval_s


def when_progressing(policy: Policy, state: State, observation: Observation, now: float) -> Decision:
    events: list[Event] = []
    judged = False
    if not has_analysis(policy):
        state = replace(state, passed_since=state.passed_since or now)
    elif now >= state.next_analysis_at:
        verdict, message, numbers = analyse(policy, state, observation)
        events.append(Event("analysis", message, {"verdict": verdict.value, **numbers}))
        state = replace(state, next_analysis_at=now + policy.analysis.interval_s)
        if verdict == Outcome.FAILED:
            state = replace(state, failures=state.failures + 1, passed_since=None)
            if state.failures >= policy.analysis.failure_limit:
                decision = fail(policy, state, message)
                return Decision(decision.state, (*events, *decision.events), restart_window=True)
            return Decision(state, tuple(events), restart_window=True)
        if verdict == Outcome.INCONCLUSIVE:
            state = replace(state, inconclusives=state.inconclusives + 1, passed_since=None)
            if state.inconclusives > policy.analysis.inconclusive_limit:
                why = f"analysis inconclusive {state.inconclusives} times in a row: {message}"
                decision = fail(policy, state, why)
                return Decision(decision.state, (*events, *decision.events))
            return Decision(state, tuple(events))  # the step waits, and the window stays open for more requests
        state = replace(state, failures=0, inconclusives=0, passed_since=state.passed_since or now)
        judged = True
    if policy.strategy == Strategy.CANARY:
        decision = next_step(policy, state, now, events)
        return replace(decision, restart_window=judged)
    waited = now - (state.passed_since if state.passed_since is not None else now)
    if policy.auto_promote_s is not None and state.passed_since is not None and waited >= policy.auto_promote_s:
        decision = switch_or_finish(policy, state, now, f"analysis passed for {policy.auto_promote_s} s")
        return Decision(decision.state, (*events, *decision.events), restart_window=judged)
    return Decision(state, tuple(events), restart_window=judged)


def next_step(policy: Policy, state: State, now: float, events: list[Event]) -> Decision:
    step = policy.steps[state.step_index]
    if step.pause_s is None or now - state.step_started_at < step.pause_s or not step_passed(policy, state):
        return Decision(state, tuple(events))
    if state.step_index + 1 >= len(policy.steps):  # a canary never stays warm: the last step ends it
        decision = finish(state, "the last step ran its course")
        return Decision(decision.state, (*events, *decision.events))
    index = state.step_index + 1
    weight = policy.steps[index].weight
    stepped = replace(
        state, step_index=index, step_started_at=now, traffic=Traffic(candidate_weight=weight), passed_since=None,
        next_analysis_at=first_analysis_at(policy, now),
    )  # fmt: skip
    return Decision(
        stepped, (*events, Event("step", f"step {index + 1}: {weight}% to the candidate", {"weight": weight}))
    )


def step_passed(policy: Policy, state: State) -> bool:
    """A step with analysis moves on only once its latest analysis passed (a failed or inconclusive one clears
    `passed_since`): an inconclusive analysis extends the step."""
    return not has_analysis(policy) or state.passed_since is not None


def has_analysis(policy: Policy) -> bool:
    rules = policy.analysis
    return any(
        value is not None
        for value in (rules.max_error_rate, rules.max_p99_ms, rules.max_p99_ratio, rules.min_shadow_agreement)
    )


def analyse(policy: Policy, state: State, observation: Observation) -> tuple[Outcome, str, EventData]:
    """(passed | failed | inconclusive, sentences for people, the numbers behind them).

    Both versions are judged on the same window of requests. No verdict before each version that takes traffic
    has `min_requests` in the window (the stable takes none at 100%: then the gates that compare with it are not
    run); while mirroring, the candidate answers no client and only its agreement is judged. A gate fails only on
    significant evidence (`max_p_value`); a failed gate fails the analysis, else an inconclusive one makes it
    inconclusive."""
    rules, candidate, stable, names = policy.analysis, observation.candidate, observation.stable, observation.names
    mirrored = state.traffic.shadow_percent > 0 and state.traffic.candidate_weight == 0
    compared = state.traffic.candidate_weight < 100  # the stable version serves part of the split
    mine, theirs = candidate.p99, stable.p99
    numbers: EventData = {
        "candidate_requests": candidate.requests,
        "candidate_errors": candidate.errors,
        "candidate_error_rate": round(candidate.error_rate, 4),
        "candidate_p99_ms": mine.ms if mine else None,
        "candidate_p99_at_least": mine.at_least if mine else None,
        "stable_requests": stable.requests,
        "stable_errors": stable.errors,
        "stable_error_rate": round(stable.error_rate, 4),
        "stable_p99_ms": theirs.ms if theirs else None,
        "stable_p99_at_least": theirs.at_least if theirs else None,
        "min_requests": rules.min_requests,
        "max_p_value": rules.max_p_value,
    }
    if mirrored:
        requests, agreements = observation.shadow_requests, observation.shadow_agreements
        agreement = round(min(agreements, requests) / requests, 4) if requests else None
        numbers |= {"shadow_requests": requests, "shadow_agreement": agreement}
    if observation.blind:
        return Outcome.INCONCLUSIVE, f"no metrics: {observation.blind}", numbers
    seen = observation.shadow_requests if mirrored else candidate.requests
    counts = [(names.candidate, seen, "mirrored requests" if mirrored else "requests")]
    if compared:
        counts.append((names.stable, stable.requests, "requests"))
    if any(count < rules.min_requests for _, count, _ in counts):
        found = ", ".join(f"{name} {count:,} {what}" for name, count, what in counts)
        message = f"too few requests to judge: {found} in the window; each needs {rules.min_requests:,}"
        return Outcome.INCONCLUSIVE, message + " (the window grows until they do)", numbers
    verdicts = gate_verdicts(rules, candidate, stable, observation, mirrored=mirrored, compared=compared)
    numbers["gates"] = [verdict.record() for verdict in verdicts]
    for outcome in (Outcome.FAILED, Outcome.INCONCLUSIVE):
        if found_verdicts := [verdict for verdict in verdicts if verdict.outcome == outcome]:
            return outcome, "; ".join(verdict.message for verdict in found_verdicts), numbers
    said = "; ".join(verdict.message for verdict in verdicts)
    return Outcome.PASSED, f"every threshold held: {said}" if said else "every threshold held", numbers


def gate_verdicts(
    rules: Analysis,
    candidate: VersionStats,
    stable: VersionStats,
    observation: Observation,
    *,
    mirrored: bool,
    compared: bool,
) -> list[Verdict]:
    """Each configured gate's verdict (rollouts.statistics), in the order people read them: errors, latency."""
    names, alpha = observation.names, rules.max_p_value
    if mirrored:
        if rules.min_shadow_agreement is None:
            return []
        agreed, mirrored_requests = observation.shadow_agreements, observation.shadow_requests
        return [agreement_verdict(agreed, mirrored_requests, min_rate=rules.min_shadow_agreement, max_p_value=alpha,
                                  names=names)]  # fmt: skip
    verdicts: list[Verdict] = []
    if rules.max_error_rate is not None:
        stable_errors, stable_requests = (stable.errors, stable.requests) if compared else (None, None)
        errors = error_rate_verdict(candidate.errors, candidate.requests, stable_errors, stable_requests,
                                    max_rate=rules.max_error_rate, max_p_value=alpha, names=names)  # fmt: skip
        verdicts.append(errors)
    if rules.max_p99_ms is not None:
        if candidate.latency is None:
            verdicts.append(Verdict("latency_max", Outcome.INCONCLUSIVE, f"no latency recorded for {names.candidate}"))
        else:
            beside = stable.latency if compared else None
            ceiling = latency_limit_verdict(candidate.latency, beside, max_ms=rules.max_p99_ms, max_p_value=alpha,
                                            names=names)  # fmt: skip
            verdicts.append(ceiling)
    if rules.max_p99_ratio is not None and compared:
        if candidate.latency is None or stable.latency is None:
            verdicts.append(Verdict("latency_ratio", Outcome.INCONCLUSIVE, "no latency recorded to compare"))
        else:
            ratio = latency_ratio_verdict(candidate.latency, stable.latency, max_ratio=rules.max_p99_ratio,
                                          min_delta_ms=rules.min_latency_delta_ms, max_p_value=alpha,
                                          names=names)  # fmt: skip
            verdicts.append(ratio)
    return verdicts


def switch_or_finish(policy: Policy, state: State, now: float, why: str, extra: tuple[Event, ...] = ()) -> Decision:
    if policy.strategy == Strategy.BLUE_GREEN and policy.keep_warm_s > 0:
        warm = replace(state, phase=Phase.WARM, switched_at=now, traffic=Traffic(candidate_weight=100))
        message = f"switched all traffic to the candidate ({why}); the old version stays warm {policy.keep_warm_s} s"
        return Decision(warm, (*extra, Event("switched", message)))
    decision = finish(state, why)
    return Decision(decision.state, (*extra, *decision.events))


def finish(state: State, why: str) -> Decision:
    done = replace(state, phase=Phase.SUCCEEDED, traffic=Traffic(candidate_weight=100, keep_stable_loaded=False))
    return Decision(done, (Event("succeeded", f"the candidate is the new stable version ({why})"),))


def fail(policy: Policy, state: State, why: str, *, force: bool = False) -> Decision:
    if policy.on_failure == "pause" and not force:
        paused = replace(state, phase=Phase.PAUSED, reason=f"analysis failed: {why}")
        return Decision(paused, (Event("paused", paused.reason, {"failed": why}),))
    return roll_back(state, Phase.FAILED, f"rolled back: {why}")


def roll_back(state: State, phase: Phase, message: str) -> Decision:
    back = replace(state, phase=phase, reason=message, traffic=Traffic(candidate_weight=0, shadow_percent=0))
    return Decision(back, (Event(phase.value, message),))
