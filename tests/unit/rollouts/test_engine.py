"""The rollout engine: worked examples of each strategy, then properties over random runs."""

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
    VersionStats,
    advance,
    start,
)

HEALTHY = Observation(candidate_ready=True, candidate=VersionStats(100, 0, 20.0), stable=VersionStats(900, 0, 20.0))
BROKEN = Observation(candidate_ready=True, candidate=VersionStats(100, 30, 20.0), stable=VersionStats(900, 0, 20.0))
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
    slow = replace(HEALTHY, candidate=VersionStats(100, 0, 80.0))
    state, _ = run(policy, [HEALTHY, slow])
    assert state.phase == Phase.FAILED and "1.5× stable's 20 ms" in state.reason


def test_on_failure_pause_freezes_and_never_moves_by_itself():
    policy = replace(CANARY, on_failure="pause")
    state, _ = run(policy, [HEALTHY, BROKEN] + [HEALTHY] * 20)
    assert state.phase == Phase.PAUSED and state.traffic.candidate_weight == 10


def test_too_few_requests_pause_after_the_inconclusive_limit():
    quiet = replace(HEALTHY, candidate=VersionStats(3, 0, 10.0))
    state, _ = run(CANARY, [HEALTHY] + [quiet] * 6)
    assert state.phase == Phase.PAUSED and "needs 20" in state.reason


def test_without_metrics_nothing_passes_and_the_pause_says_why():
    blind = Observation(candidate_ready=True, blind="no sample of v2 in the last 5 s; is the monitor running?")
    state, log = run(CANARY, [HEALTHY] + [blind] * 6)
    assert state.phase == Phase.PAUSED and state.traffic.candidate_weight == 10, "never a step on no evidence"
    assert "no metrics: no sample of v2" in state.reason
    assert not any(e.kind == "step" and e.data["weight"] > 10 for e in log)


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
    agreeing = replace(HEALTHY, shadow_requests=100, shadow_agreements=99)
    state, _ = run(policy, [agreeing] * 4)
    assert state.phase == Phase.SUCCEEDED
    disagreeing = replace(HEALTHY, shadow_requests=100, shadow_agreements=60)
    state, _ = run(policy, [disagreeing] * 4)
    assert state.phase == Phase.FAILED and "shadow agreement 60.0% < min 95.0%" in state.reason


def test_direct_switches_when_ready():
    state, _ = run(Policy(Strategy.DIRECT), [Observation(), HEALTHY])
    assert state.phase == Phase.SUCCEEDED and state.traffic.candidate_weight == 100


observations = st.builds(
    Observation,
    candidate_ready=st.booleans(),
    candidate_failed=st.sampled_from(["", "", "", "broken"]),
    candidate=st.builds(VersionStats, st.integers(0, 200), st.integers(0, 50), st.one_of(st.none(), st.floats(1, 500))),
    stable=st.builds(VersionStats, st.integers(0, 200), st.integers(0, 5), st.one_of(st.none(), st.floats(1, 500))),
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
        min_shadow_agreement=st.one_of(st.none(), st.floats(0.5, 1)),
        failure_limit=st.integers(1, 3),
        inconclusive_limit=st.integers(1, 3),
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
