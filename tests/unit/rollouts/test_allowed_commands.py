"""The engine is the one authority on which rollout command is legal: `allowed_commands` per phase, and a property
tying it to `apply_command` (a listed command is applied, an unlisted one is refused with the listed reason)."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.rollouts.engine import (
    Command,
    Observation,
    Phase,
    State,
    Traffic,
    advance,
    allowed_commands,
    apply_command,
    start,
)
from tests.unit.rollouts.test_engine import CANARY, HEALTHY, moves, observations, policies

ALLOWED_IN = {
    Phase.PENDING: {Command.PAUSE, Command.ABORT},
    Phase.PROGRESSING: {Command.PAUSE, Command.PROMOTE, Command.ABORT},
    Phase.PAUSED: {Command.RESUME, Command.PROMOTE, Command.ABORT},
    Phase.WARM: {Command.ABORT},
    Phase.SUCCEEDED: set(),
    Phase.FAILED: set(),
    Phase.ABORTED: set(),
}


def allowed(state: State, observation: Observation | None = None) -> set[Command]:
    return {command for command, refusal in allowed_commands(state, observation).items() if refusal is None}


@pytest.mark.parametrize("phase", list(Phase))
def test_each_phase_allows_exactly_its_commands_and_says_why_not_the_others(phase):
    state = State(phase=phase, started_at=0.0, traffic=Traffic(candidate_weight=10), step_index=0)
    answer = allowed_commands(state)
    assert set(answer) == set(Command), "every command has an answer"
    assert allowed(state) == ALLOWED_IN[phase]
    for command, refusal in answer.items():
        if command not in ALLOWED_IN[phase]:
            assert refusal and refusal.startswith(f"cannot {command.value}: ") and phase.value in refusal


def test_promote_needs_the_candidate_loaded_when_the_observation_is_known():
    state = State(phase=Phase.PROGRESSING, started_at=0.0, traffic=Traffic(candidate_weight=10), step_index=0)
    assert Command.PROMOTE in allowed(state)
    assert Command.PROMOTE in allowed(state, HEALTHY)
    refusal = allowed_commands(state, Observation(candidate_ready=False))[Command.PROMOTE]
    assert refusal == "cannot promote: the candidate is not loaded on every replica"


def test_a_refused_command_changes_nothing_and_says_why():
    state = start(CANARY, 0.0).state
    decision = apply_command(CANARY, state, HEALTHY, 1.0, Command.RESUME)
    assert decision.state == state
    assert [(event.kind, event.message) for event in decision.events] == [
        ("refused", "cannot resume: the rollout is pending; only a paused rollout can be resumed")
    ]
    over = replace(state, phase=Phase.ABORTED)
    assert advance(CANARY, over, HEALTHY, 2.0, Command.ABORT).events[0].kind == "refused"


@settings(max_examples=300, deadline=None)
@given(policy=policies, moves=moves, observation=observations, command=st.sampled_from(list(Command)))
def test_a_listed_command_is_accepted_and_an_unlisted_one_refused(policy, moves, observation, command):
    now = 1000.0
    state = start(policy, now).state
    for seen, elapsed, person in moves:  # any state a run can reach
        now += elapsed
        state = advance(policy, state, seen, now, person).state
    refusal = allowed_commands(state, observation)[command]
    decision = apply_command(policy, state, observation, now + 1, command)
    refused = [event for event in decision.events if event.kind == "refused"]
    if refusal is None:
        assert not refused, f"{command} is listed in {state.phase} but was refused: {refused}"
        assert decision.events, "an accepted command leaves an event"
    else:
        assert decision.state == state and [event.message for event in decision.events] == [refusal]
