"""The rollout state machine: a pure function of (policy, state, observation, now, command) → decision.

No Django, no Ray: services load rows, call `advance`, save the new state, apply the traffic it names, and record
its events. Invariants (property-tested): stable and candidate weights always sum to 100; traffic reaches the
candidate only once all its replicas answer; an abort or a failed analysis under `rollback` ends at 100% stable;
no step is skipped unless a human promotes; a paused rollout never moves by itself. Which command a person may
give in which state is `allowed_commands`, here alone: services, the API and the console ask it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


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
    failure_limit: int = 1
    inconclusive_limit: int = 3


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
    requests: int = 0
    errors: int = 0
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Observation:
    """What the monitor saw since the last analysis: only ever numbers, never a verdict."""

    candidate_ready: bool = False
    candidate_failed: str = ""  # why the candidate cannot load, when it cannot
    candidate: VersionStats = field(default_factory=VersionStats)
    stable: VersionStats = field(default_factory=VersionStats)
    shadow_requests: int = 0
    shadow_agreements: int = 0
    blind: str = ""  # why there are no numbers at all (the monitor is not running, the cluster does not answer)


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


@dataclass(frozen=True)
class Event:
    kind: str  # started, ready, step, analysis, paused, resumed, switched, succeeded, failed, aborted, refused
    message: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    state: State
    events: tuple[Event, ...] = ()

    @property
    def traffic_changed(self) -> bool:
        return bool(self.events) and any(e.kind in TRAFFIC_EVENTS for e in self.events)


TRAFFIC_EVENTS = {"step", "promoted", "switched", "succeeded", "failed", "aborted", "shadowing"}


def start(policy: Policy, now: float) -> Decision:
    state = State(phase=Phase.PENDING, started_at=now)
    return Decision(state, (Event("started", f"{policy.strategy} rollout started; loading the candidate at 0%"),))


def advance(
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
            return finish(state, now, "the old version's warm window ended")
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
        return fail(policy, state, now, f"the candidate cannot load: {observation.candidate_failed}", force=True)
    if not observation.candidate_ready:
        if now - state.started_at >= policy.progress_deadline_s:
            message = f"the candidate was not ready within the progress deadline ({policy.progress_deadline_s} s)"
            return fail(policy, state, now, message, force=True)
        return Decision(state)
    ready = Event("ready", "the candidate is loaded on every replica")
    analysis_at = now + policy.analysis.initial_delay_s
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


def when_progressing(policy: Policy, state: State, observation: Observation, now: float) -> Decision:
    events: list[Event] = []
    if not has_analysis(policy):
        state = replace(state, passed_since=state.passed_since or now)
    elif now >= state.next_analysis_at:
        verdict, message, numbers = analyse(policy, state, observation)
        events.append(Event("analysis", message, {"verdict": verdict, **numbers}))
        state = replace(state, next_analysis_at=now + policy.analysis.interval_s)
        if verdict == "failed":
            state = replace(state, failures=state.failures + 1)
            if state.failures >= policy.analysis.failure_limit:
                decision = fail(policy, state, now, message)
                return Decision(decision.state, (*events, *decision.events))
            return Decision(state, tuple(events))
        if verdict == "inconclusive":
            state = replace(state, inconclusives=state.inconclusives + 1)
            if state.inconclusives > policy.analysis.inconclusive_limit:
                paused = replace(state, phase=Phase.PAUSED, reason=f"analysis inconclusive: {message}")
                return Decision(paused, (*events, Event("paused", paused.reason)))
            return Decision(state, tuple(events))
        state = replace(state, failures=0, inconclusives=0, passed_since=state.passed_since or now)
    if policy.strategy == Strategy.CANARY:
        return next_step(policy, state, now, events)
    waited = now - (state.passed_since if state.passed_since is not None else now)
    if policy.auto_promote_s is not None and state.passed_since is not None and waited >= policy.auto_promote_s:
        decision = switch_or_finish(policy, state, now, f"analysis passed for {policy.auto_promote_s} s")
        return Decision(decision.state, (*events, *decision.events))
    return Decision(state, tuple(events))


def next_step(policy: Policy, state: State, now: float, events: list[Event]) -> Decision:
    step = policy.steps[state.step_index]
    if step.pause_s is None or now - state.step_started_at < step.pause_s or not step_passed(policy, state):
        return Decision(state, tuple(events))
    if state.step_index + 1 >= len(policy.steps):
        if step.weight == 100:
            decision = finish(state, now, "the last step ran its course")
        else:
            decision = switch_or_finish(policy, state, now, "the last step ran its course")
        return Decision(decision.state, (*events, *decision.events))
    index = state.step_index + 1
    weight = policy.steps[index].weight
    stepped = replace(
        state, step_index=index, step_started_at=now, traffic=Traffic(candidate_weight=weight), passed_since=None,
        next_analysis_at=now + policy.analysis.initial_delay_s,
    )  # fmt: skip
    return Decision(
        stepped, (*events, Event("step", f"step {index + 1}: {weight}% to the candidate", {"weight": weight}))
    )


def step_passed(policy: Policy, state: State) -> bool:
    """A step with analysis moves on only after at least one passing analysis in it."""
    return not has_analysis(policy) or state.passed_since is not None


def has_analysis(policy: Policy) -> bool:
    rules = policy.analysis
    return any(
        value is not None
        for value in (rules.max_error_rate, rules.max_p99_ms, rules.max_p99_ratio, rules.min_shadow_agreement)
    )


def analyse(policy: Policy, state: State, observation: Observation) -> tuple[str, str, dict]:
    """('passed' | 'failed' | 'inconclusive', a sentence naming the threshold, the numbers it saw)."""
    rules, candidate, stable = policy.analysis, observation.candidate, observation.stable
    numbers: dict = {
        "candidate_requests": candidate.requests,
        "candidate_errors": candidate.errors,
        "candidate_error_rate": round(candidate.error_rate, 4),
        "candidate_p99_ms": candidate.p99_ms,
        "stable_p99_ms": stable.p99_ms,
    }
    mirrored = state.traffic.shadow_percent > 0 and state.traffic.candidate_weight == 0
    seen = observation.shadow_requests if mirrored else candidate.requests
    if mirrored:
        agreement = observation.shadow_agreements / observation.shadow_requests if observation.shadow_requests else None
        numbers |= {"shadow_requests": observation.shadow_requests, "shadow_agreement": agreement}
    if not has_analysis(policy):
        return "passed", "no analysis configured", numbers
    if observation.blind:
        return "inconclusive", f"no metrics: {observation.blind}", numbers
    if seen < rules.min_requests:
        return "inconclusive", f"{seen} requests seen; the analysis needs {rules.min_requests}", numbers
    failures = []
    if rules.max_error_rate is not None and candidate.error_rate > rules.max_error_rate:
        failures.append(f"error rate {candidate.error_rate:.1%} > max {rules.max_error_rate:.1%}")
    if rules.max_p99_ms is not None and candidate.p99_ms is not None and candidate.p99_ms > rules.max_p99_ms:
        failures.append(f"p99 {candidate.p99_ms:.0f} ms > max {rules.max_p99_ms:.0f} ms")
    if (
        rules.max_p99_ratio is not None
        and candidate.p99_ms is not None
        and stable.p99_ms
        and candidate.p99_ms > stable.p99_ms * rules.max_p99_ratio
    ):
        failures.append(f"p99 {candidate.p99_ms:.0f} ms > {rules.max_p99_ratio}× stable's {stable.p99_ms:.0f} ms")
    if mirrored and rules.min_shadow_agreement is not None:
        agreement = numbers["shadow_agreement"] or 0.0
        if agreement < rules.min_shadow_agreement:
            failures.append(f"shadow agreement {agreement:.1%} < min {rules.min_shadow_agreement:.1%}")
    if failures:
        return "failed", "; ".join(failures), numbers
    return "passed", "every threshold held", numbers


def switch_or_finish(policy: Policy, state: State, now: float, why: str, extra: tuple[Event, ...] = ()) -> Decision:
    if policy.strategy == Strategy.BLUE_GREEN and policy.keep_warm_s > 0:
        warm = replace(state, phase=Phase.WARM, switched_at=now, traffic=Traffic(candidate_weight=100))
        message = f"switched all traffic to the candidate ({why}); the old version stays warm {policy.keep_warm_s} s"
        return Decision(warm, (*extra, Event("switched", message)))
    decision = finish(state, now, why)
    return Decision(decision.state, (*extra, *decision.events))


def finish(state: State, now: float, why: str) -> Decision:
    done = replace(state, phase=Phase.SUCCEEDED, traffic=Traffic(candidate_weight=100, keep_stable_loaded=False))
    return Decision(done, (Event("succeeded", f"the candidate is the new stable version ({why})"),))


def fail(policy: Policy, state: State, now: float, why: str, *, force: bool = False) -> Decision:
    if policy.on_failure == "pause" and not force:
        paused = replace(state, phase=Phase.PAUSED, reason=f"analysis failed: {why}")
        return Decision(paused, (Event("paused", paused.reason, {"failed": why}),))
    return roll_back(state, Phase.FAILED, f"rolled back: {why}")


def roll_back(state: State, phase: Phase, message: str) -> Decision:
    back = replace(state, phase=phase, reason=message, traffic=Traffic(candidate_weight=0, shadow_percent=0))
    return Decision(back, (Event(phase.value, message),))
