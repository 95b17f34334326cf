"""The rollout engine: worked examples of each strategy, the statistical judgment of an analysis, then properties over
random runs."""

import math
import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from controlplane.rollouts.engine import (
    Analysis,
    Command,
    Observation,
    Phase,
    Policy,
    State,
    Step,
    Strategy,
    Traffic,
    VersionStats,
    advance,
    analyse,
    start,
)
from controlplane.rollouts.statistics import Histogram

from .latencies import BOUNDS, NAMES
from .latencies import bucketed as latency


def served(
    requests: int, errors: int = 0, *, median_ms: float = 20.0, sigma: float = 0.4, seed: int = 0, extra_ms=()
) -> VersionStats:
    """`requests` answers with lognormal latencies around `median_ms` (plus `extra_ms` ones), `errors` of them 5xx."""
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(median_ms), sigma) for _ in range(requests - len(extra_ms))]
    return VersionStats(requests, errors, latency([*values, *extra_ms]))


HEALTHY = Observation(candidate_ready=True, candidate=served(100, seed=1), stable=served(900, seed=2), names=NAMES)
BROKEN = replace(HEALTHY, candidate=served(100, 30, seed=3))
CANARY = Policy(
    Strategy.CANARY,
    steps=(Step(10, 30), Step(50, 30), Step(100, 0)),
    analysis=Analysis(interval_s=10, min_requests=20, max_error_rate=0.05),
)


def run(policy: Policy, observations, *, now: float = 0.0, step_s: float = 10.0, command_at=None):
    decision = start(policy, now)
    state, log = decision.state, list(decision.events)
    for index, observation in enumerate(observations):
        now += step_s
        command = (command_at or {}).get(index)
        decision = advance(policy, state, observation, now, command)
        state = decision.state
        log.extend(decision.events)
    return state, log


def test_canary_walks_its_steps_and_promotes():
    state, log = run(CANARY, [HEALTHY] * 12)
    assert state.phase == Phase.SUCCEEDED and state.traffic.candidate_weight == 100
    assert [e.data["weight"] for e in log if e.kind == "step"] == [10, 50, 100]
    assert not state.traffic.keep_stable_loaded


def test_candidate_gets_no_traffic_before_it_is_loaded():
    waiting = Observation(candidate_ready=False)
    state, _ = run(CANARY, [waiting] * 5)
    assert state.phase == Phase.PENDING and state.traffic.candidate_weight == 0


def test_a_failing_candidate_is_rolled_back_with_the_threshold_and_numbers():
    state, log = run(CANARY, [HEALTHY, BROKEN, BROKEN])
    assert state.phase == Phase.FAILED and state.traffic.candidate_weight == 0
    analysis = next(e for e in log if e.kind == "analysis" and e.data["verdict"] == "failed")
    assert "error rate 30.0% > max 5.0%" in analysis.message
    assert analysis.data["candidate_errors"] == 30 and analysis.data["candidate_requests"] == 100
    assert "error rate 30.0%" in state.reason


def test_latency_relative_to_stable():
    policy = replace(CANARY, analysis=Analysis(min_requests=1, max_p99_ratio=1.5))
    slow = replace(HEALTHY, candidate=served(100, median_ms=80.0, seed=4))
    state, _ = run(policy, [HEALTHY, slow])
    assert state.phase == Phase.FAILED and "v2's latency is higher than v1's (p < 0.001, 100 vs 900 requests)" in (
        state.reason
    )


def test_on_failure_pause_freezes_and_never_moves_by_itself():
    policy = replace(CANARY, on_failure="pause")
    state, _ = run(policy, [HEALTHY, BROKEN] + [HEALTHY] * 20)
    assert state.phase == Phase.PAUSED and state.traffic.candidate_weight == 10


def test_too_few_requests_past_the_inconclusive_limit_follow_on_failure():
    quiet = replace(HEALTHY, candidate=served(3, median_ms=10.0))
    state, log = run(CANARY, [HEALTHY] + [quiet] * 6)
    assert state.phase == Phase.FAILED and state.traffic.candidate_weight == 0, "on_failure: rollback (the default)"
    assert "analysis inconclusive 4 times in a row" in state.reason and "each needs 20" in state.reason
    assert [e.data["verdict"] for e in log if e.kind == "analysis"] == ["inconclusive"] * 4
    state, _ = run(replace(CANARY, on_failure="pause"), [HEALTHY] + [quiet] * 6)
    assert state.phase == Phase.PAUSED and state.traffic.candidate_weight == 10


def test_without_metrics_nothing_passes_and_the_outcome_says_why():
    blind = Observation(candidate_ready=True, blind="no sample of v2 in the last 5 s; is the monitor running?")
    state, log = run(replace(CANARY, on_failure="pause"), [HEALTHY] + [blind] * 6)
    assert state.phase == Phase.PAUSED and state.traffic.candidate_weight == 10, "never a step on no evidence"
    assert "no metrics: no sample of v2" in state.reason
    assert not any(e.kind == "step" and e.data["weight"] > 10 for e in log)
    state, _ = run(CANARY, [HEALTHY] + [blind] * 6)
    assert state.phase == Phase.FAILED and "no metrics: no sample of v2" in state.reason


def test_human_steps_wait_for_promote():
    policy = replace(CANARY, steps=(Step(10, None), Step(100, 0)))
    state, _ = run(policy, [HEALTHY] * 10)
    assert state.phase == Phase.PROGRESSING and state.traffic.candidate_weight == 10
    state, _ = run(policy, [HEALTHY] * 10, command_at={5: Command.PROMOTE})
    assert state.phase == Phase.SUCCEEDED


def test_abort_and_progress_deadline_return_to_stable():
    state, _ = run(CANARY, [HEALTHY] * 4, command_at={3: Command.ABORT})
    assert state.phase == Phase.ABORTED and state.traffic.candidate_weight == 0
    never = Observation(candidate_ready=False)
    state, _ = run(replace(CANARY, progress_deadline_s=30), [never] * 5)
    assert state.phase == Phase.FAILED and "progress deadline" in state.reason


def test_a_candidate_that_cannot_load_fails_at_once():
    state, _ = run(CANARY, [Observation(candidate_failed="LoaderError: not an ONNX model")])
    assert state.phase == Phase.FAILED and "not an ONNX model" in state.reason


def test_blue_green_previews_switches_and_keeps_the_old_version_warm():
    policy = Policy(
        Strategy.BLUE_GREEN,
        analysis=Analysis(min_requests=10, max_error_rate=0.01),
        auto_promote_s=20,
        keep_warm_s=60,
    )
    mirrored = replace(HEALTHY, shadow_requests=100, shadow_agreements=100)
    state, log = run(policy, [mirrored] * 5)
    assert state.phase == Phase.WARM and state.traffic.candidate_weight == 100 and state.traffic.keep_stable_loaded
    assert any(e.kind == "switched" for e in log)
    state, _ = run(policy, [mirrored] * 12)
    assert state.phase == Phase.SUCCEEDED and not state.traffic.keep_stable_loaded
    state, _ = run(policy, [mirrored] * 6, command_at={5: Command.ABORT})
    assert state.phase == Phase.ABORTED and state.traffic.candidate_weight == 0


def test_shadow_is_gated_on_agreement():
    policy = Policy(Strategy.SHADOW, analysis=Analysis(min_requests=10, min_shadow_agreement=0.95), auto_promote_s=10)
    agreeing = replace(HEALTHY, shadow_requests=1000, shadow_agreements=995)
    state, _ = run(policy, [agreeing] * 4)
    assert state.phase == Phase.SUCCEEDED
    disagreeing = replace(HEALTHY, shadow_requests=100, shadow_agreements=60)
    state, _ = run(policy, [disagreeing] * 4)
    assert state.phase == Phase.FAILED and "shadow agreement 60.0% < min 95.0%" in state.reason
    unsettled = replace(HEALTHY, shadow_requests=100, shadow_agreements=99)  # 99%, but its 99% lower bound is 94%
    state, log = run(policy, [unsettled] * 3)
    assert state.phase == Phase.PROGRESSING and log[-1].data["verdict"] == "inconclusive"


def test_direct_switches_when_ready():
    state, _ = run(Policy(Strategy.DIRECT), [Observation(), HEALTHY])
    assert state.phase == Phase.SUCCEEDED and state.traffic.candidate_weight == 100


# --- statistical judgment -------------------------------------------------------------------------------------------

# The measured A/A case: the same model as v1 and v2, a few dozen candidate requests, one of them over 10 s on a busy
# machine (the histogram's top bucket). Policy as measured: 10 -> 50 -> 100%, 15 s steps, 5 s analysis, p99 ratio 3.
AA_POLICY = Policy(
    Strategy.CANARY,
    steps=(Step(10, 15), Step(50, 15), Step(100, 0)),
    analysis=Analysis(interval_s=5, min_requests=20, max_p99_ratio=3.0, max_p99_ms=500, max_error_rate=0.01),
)
AA_NOISY = replace(
    HEALTHY,
    candidate=served(40, median_ms=3.0, seed=11, extra_ms=(12_000,)),
    stable=served(400, median_ms=3.0, seed=12),
)


def analysis_events(log):
    return [event for event in log if event.kind == "analysis"]


def test_aa_noise_with_few_requests_is_inconclusive_not_failed():
    verdict, message, data = analyse(AA_POLICY, State(Phase.PROGRESSING, 0.0, Traffic(10), 0), AA_NOISY)
    assert verdict == "inconclusive", message
    assert "v2's p99 ≥ 10,000 ms vs v1's" in message and "not significantly higher" in message
    ratio = next(gate for gate in data["gates"] if gate["gate"] == "latency_ratio")
    assert ratio["verdict"] == "inconclusive" and ratio["p_value"] > 0.01
    assert (ratio["candidate_requests"], ratio["stable_requests"]) == (40, 400)
    assert data["candidate_p99_ms"] == 10_000 and data["candidate_p99_at_least"] is True


def test_top_bucket_latencies_never_fail_a_gate_alone():
    """A few requests in the top bucket hold the step (inconclusive) until more requests settle it: here the window
    grows to 400 candidate requests with the same stray one, and the canary walks on."""
    settled = replace(AA_NOISY, candidate=served(400, median_ms=3.0, seed=13, extra_ms=(12_000,)))
    state, log = run(AA_POLICY, [HEALTHY, AA_NOISY, settled, settled, settled, settled, settled], step_s=5)
    gates = [gate for event in analysis_events(log) for gate in event.data.get("gates", [])]
    assert gates and not [gate for gate in gates if gate["verdict"] == "failed"], gates
    assert [event.data["verdict"] for event in analysis_events(log)][:2] == ["inconclusive", "passed"]
    assert state.phase == Phase.PROGRESSING and state.step_index == 2


def test_a_real_regression_with_enough_requests_fails_with_its_numbers():
    slower = replace(
        HEALTHY, candidate=served(1240, median_ms=15.0, seed=14), stable=served(1190, median_ms=2.5, seed=15)
    )
    state, log = run(AA_POLICY, [HEALTHY, slower], step_s=5)
    assert state.phase == Phase.FAILED and state.traffic.candidate_weight == 0
    (failed,) = analysis_events(log)
    assert failed.message.startswith("v2's latency is higher than v1's (p < 0.001, 1,240 vs 1,190 requests): p99 ")
    ratio = next(gate for gate in failed.data["gates"] if gate["gate"] == "latency_ratio")
    assert ratio["verdict"] == "failed" and ratio["statistic"] == "mann_whitney_u" and ratio["p_value"] < 0.001
    assert (ratio["candidate_requests"], ratio["stable_requests"]) == (1240, 1190)
    assert (ratio["max_ratio"], ratio["min_delta_ms"], ratio["max_p_value"]) == (3.0, 5.0, 0.01)
    assert failed.data["candidate_requests"] == 1240 and failed.data["stable_requests"] == 1190
    assert "rolled back: v2's latency is higher than v1's" in state.reason


def test_two_times_one_millisecond_is_no_regression():
    policy = replace(CANARY, analysis=Analysis(min_requests=20, max_p99_ratio=1.5))
    fast = replace(
        HEALTHY,
        candidate=served(2000, median_ms=3.0, sigma=0.15, seed=16),
        stable=served(2000, median_ms=1.2, sigma=0.15, seed=17),
    )
    assert fast.candidate.p99.ms > 2 * fast.stable.p99.ms and fast.candidate.p99.ms - fast.stable.p99.ms < 5
    verdict, message, data = analyse(policy, State(Phase.PROGRESSING, 0.0, Traffic(10), 0), fast)
    assert verdict == "passed" and data["gates"][0]["p_value"] < 0.001, "slower for sure, but by 3 ms"
    assert "is not both 1.5× and +5 ms over" in message
    stricter = replace(policy, analysis=replace(policy.analysis, min_latency_delta_ms=0.5))
    assert analyse(stricter, State(Phase.PROGRESSING, 0.0, Traffic(10), 0), fast)[0] == "failed"


def test_no_verdict_before_each_version_has_its_minimum_of_requests():
    quiet_stable = replace(HEALTHY, stable=served(12, seed=18))
    verdict, message, _ = analyse(CANARY, State(Phase.PROGRESSING, 0.0, Traffic(90), 0), quiet_stable)
    assert verdict == "inconclusive" and message.startswith("too few requests to judge: v2 100 requests, v1 12")
    # At 100% the stable version serves nothing: the candidate is judged alone, on the absolute gates.
    alone = replace(HEALTHY, stable=VersionStats())
    assert analyse(CANARY, State(Phase.PROGRESSING, 0.0, Traffic(100), 2), alone)[0] == "passed"


def test_an_error_rate_like_the_stables_is_no_reason_to_roll_back():
    flaky = replace(HEALTHY, candidate=served(1000, 30, seed=19), stable=served(1000, 31, seed=20))
    policy = replace(CANARY, analysis=Analysis(min_requests=20, max_error_rate=0.01))
    verdict, message, _ = analyse(policy, State(Phase.PROGRESSING, 0.0, Traffic(50), 1), flaky)
    assert verdict == "passed" and "no worse than v1's 3.1%" in message


def test_an_inconclusive_analysis_extends_the_step():
    """Step 1 passed its first analysis; once its 30 s are up the latest one is inconclusive: the step waits for a
    passing one before 50%."""
    quiet = replace(HEALTHY, candidate=served(3, seed=21))
    state, log = run(CANARY, [HEALTHY, HEALTHY, HEALTHY, quiet, quiet, HEALTHY])
    verdicts = [event.data["verdict"] for event in analysis_events(log)]
    assert verdicts == ["passed", "passed", "inconclusive", "inconclusive", "passed"]
    steps = [(event.data["weight"], index) for index, event in enumerate(log) if event.kind == "step"]
    assert [weight for weight, _ in steps] == [10, 50] and state.traffic.candidate_weight == 50
    assert steps[1][1] > [index for index, event in enumerate(log) if event.kind == "analysis"][-1]
    assert state.step_started_at == 60.0, "30 s were up at 40 s; the step moved on at the next pass, at 60 s"


def test_failure_limit_counts_failures_in_a_row():
    policy = replace(CANARY, analysis=replace(CANARY.analysis, failure_limit=2))
    state, _ = run(policy, [HEALTHY, BROKEN, HEALTHY, BROKEN, HEALTHY])
    assert state.phase == Phase.PROGRESSING, "a pass in between resets the count"
    state, _ = run(policy, [HEALTHY, BROKEN, BROKEN])
    assert state.phase == Phase.FAILED


def test_the_window_restarts_after_a_verdict_or_a_traffic_move_but_not_after_an_inconclusive_analysis():
    decision = start(CANARY, 0.0)
    ready = advance(CANARY, decision.state, HEALTHY, 10.0)
    assert ready.state.traffic.candidate_weight == 10 and ready.restart_window, "traffic moved"
    assert ready.state.next_analysis_at == 20.0, "the first analysis judges a whole interval at the new weight"
    assert not advance(CANARY, ready.state, HEALTHY, 15.0).restart_window, "no analysis yet"
    quiet = replace(HEALTHY, candidate=served(3, seed=22))
    inconclusive = advance(CANARY, ready.state, quiet, 20.0)
    assert inconclusive.events[0].data["verdict"] == "inconclusive" and not inconclusive.restart_window
    passed = advance(CANARY, inconclusive.state, HEALTHY, 30.0)
    assert passed.events[0].data["verdict"] == "passed" and passed.restart_window
    failed = advance(replace(CANARY, on_failure="pause"), inconclusive.state, BROKEN, 30.0)
    assert failed.events[0].data["verdict"] == "failed" and failed.restart_window


histograms = st.lists(st.integers(0, 40), min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1).map(
    lambda counts: Histogram(BOUNDS, tuple(counts))
)
version_stats = st.builds(
    lambda latency, errors: VersionStats(latency.total, min(errors, latency.total), latency),
    st.one_of(histograms, st.just(Histogram(BOUNDS, (0,) * (len(BOUNDS) + 1)))),
    st.integers(0, 50),
)
observations = st.builds(
    Observation,
    candidate_ready=st.booleans(),
    candidate_failed=st.sampled_from(["", "", "", "broken"]),
    candidate=st.one_of(version_stats, st.builds(VersionStats, st.integers(0, 200), st.integers(0, 50))),
    stable=version_stats,
    shadow_requests=st.integers(0, 200),
    shadow_agreements=st.integers(0, 200),
)
policies = st.builds(
    Policy,
    strategy=st.sampled_from(list(Strategy)),
    steps=st.lists(st.integers(1, 100), min_size=1, max_size=5).map(
        lambda weights: tuple(Step(w, p) for w, p in zip(sorted(weights), [0, 20, None, 5, 60], strict=False))
    ),
    analysis=st.builds(
        Analysis,
        interval_s=st.integers(1, 30),
        min_requests=st.integers(0, 50),
        max_error_rate=st.one_of(st.none(), st.floats(0, 0.5)),
        max_p99_ms=st.one_of(st.none(), st.floats(10, 400)),
        max_p99_ratio=st.one_of(st.none(), st.floats(1, 10)),
        min_shadow_agreement=st.one_of(st.none(), st.floats(0.5, 1)),
        failure_limit=st.integers(1, 3),
        inconclusive_limit=st.integers(1, 3),
        max_p_value=st.floats(0.0001, 0.5),
        min_latency_delta_ms=st.floats(0, 50),
    ),
    on_failure=st.sampled_from(["rollback", "pause"]),
    progress_deadline_s=st.integers(10, 200),
    auto_promote_s=st.one_of(st.none(), st.integers(0, 60)),
    keep_warm_s=st.integers(0, 60),
)
moves = st.lists(
    st.tuples(observations, st.floats(0, 40), st.one_of(st.none(), st.sampled_from(list(Command)))), max_size=40
)


@settings(max_examples=400, deadline=None)
@given(policy=policies, moves=moves)
def test_invariants_hold_on_any_run(policy, moves):
    now = 1000.0
    state = start(policy, now).state
    ever_ready = False
    for observation, elapsed, command in moves:
        now += elapsed
        before: State = state
        decision = advance(policy, state, observation, now, command)
        state = decision.state
        ever_ready = ever_ready or observation.candidate_ready
        traffic = state.traffic
        assert 0 <= traffic.candidate_weight <= 100 and traffic.stable_weight + traffic.candidate_weight == 100
        if traffic.candidate_weight > 0:
            assert ever_ready, "traffic reached a candidate that never answered"
        if state.phase in (Phase.FAILED, Phase.ABORTED):
            assert traffic.candidate_weight == 0 and traffic.shadow_percent == 0
        if state.phase == Phase.SUCCEEDED:
            assert traffic.candidate_weight == 100
        if command != Command.PROMOTE:
            assert state.step_index <= before.step_index + 1, "a step was skipped"
        if before.phase == Phase.PAUSED and command is None:
            assert state == before, "a paused rollout moved by itself"
        if before.phase.terminal:
            assert state == before


@settings(max_examples=300, deadline=None)
@given(policy=policies, stats=version_stats, weight=st.integers(1, 99))
def test_a_candidate_identical_to_the_stable_never_fails(policy, stats, weight):
    """A/A in the limit: the same requests, errors and latencies on both sides never fail an analysis."""
    same = Observation(candidate_ready=True, candidate=stats, stable=stats)
    verdict, message, _ = analyse(policy, State(Phase.PROGRESSING, 0.0, Traffic(weight), 0), same)
    assert verdict != "failed", message


@settings(max_examples=300, deadline=None)
@given(policy=policies, observation=observations, weight=st.sampled_from([0, 10, 50, 100]))
def test_a_failed_analysis_always_carries_its_evidence(policy, observation, weight):
    """No failure on a point estimate: each failed gate holds a p-value under max_p_value (every one of its tests)
    or, for shadow agreement, an upper bound under the minimum."""
    traffic = Traffic(weight, shadow_percent=100 if weight == 0 else 0)
    verdict, _, data = analyse(policy, State(Phase.PROGRESSING, 0.0, traffic, 0), observation)
    if verdict != "failed":
        return
    failed = [gate for gate in data["gates"] if gate["verdict"] == "failed"]
    assert failed
    for gate in failed:
        if gate["gate"] == "shadow_agreement":
            assert gate["upper_bound"] < gate["min_shadow_agreement"]
        else:
            p_values = [gate[key] for key in ("p_value", "p_value_vs_max") if key in gate]
            assert p_values and all(p < policy.analysis.max_p_value for p in p_values), gate


class RolloutMachine(RuleBasedStateMachine):
    """Stateful exploration: time passes, the cluster reports, people press buttons; invariants after each rule."""

    policy = CANARY

    @initialize(policy=policies)
    def begin(self, policy):
        self.policy = policy
        self.now = 0.0
        self.state = start(policy, self.now).state
        self.ever_ready = False
        self.previous = self.state

    def step(self, observation: Observation, command: Command | None = None) -> None:
        self.previous = self.state
        self.ever_ready = self.ever_ready or observation.candidate_ready
        self.state = advance(self.policy, self.state, observation, self.now, command).state
        self.last_command = command

    @rule(seconds=st.floats(0, 30), observation=observations)
    def time_passes(self, seconds, observation):
        self.now += seconds
        self.step(observation)

    @rule(command=st.sampled_from(list(Command)), observation=observations)
    def a_person_acts(self, command, observation):
        self.step(observation, command)

    @invariant()
    def weights_and_phases_stay_sane(self):
        traffic = self.state.traffic
        assert traffic.stable_weight + traffic.candidate_weight == 100
        if traffic.candidate_weight:
            assert self.ever_ready
        if self.state.phase in (Phase.FAILED, Phase.ABORTED):
            assert traffic.candidate_weight == 0
        if self.previous.phase.terminal:
            assert self.state == self.previous


RolloutMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_rollout_machine = RolloutMachine.TestCase
