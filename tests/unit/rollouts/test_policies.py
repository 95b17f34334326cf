"""The one policy validator (rollouts.policies): what the API, the admin and policy files all refuse, by field."""

import pytest

from controlplane.rollouts.policies import policy_problems

CANARY = {"strategy": "canary", "steps": [{"weight": 10, "pause_s": 30}, {"weight": 100, "pause_s": 0}]}


def test_a_sound_policy_has_no_problems():
    assert policy_problems(CANARY) == {}
    assert policy_problems({"strategy": "shadow", "steps": [], "analysis": {"min_shadow_agreement": 0.9}}) == {}
    assert policy_problems({"strategy": "canary", "steps": [{"weight": 10, "pause_s": None}]}) == {}
    judged = {"max_p99_ratio": 3, "max_p_value": 0.001, "min_latency_delta_ms": 0.5, "inconclusive_limit": 5}
    assert policy_problems({**CANARY, "analysis": judged}) == {}


def test_the_admin_defect_values_are_each_named():
    problems = policy_problems(
        {"strategy": "canary", "steps": [{"weight": 150, "pause_s": -5}], "analysis": {"max_error_rate": "lots"}}
    )
    assert problems["steps"] == [
        "step 1: weight must be from 0 to 100, not 150",
        "step 1: pause_s must be from 0 to 604800, not -5 (null waits for a person to promote)",
    ]
    assert problems["analysis"] == ["max_error_rate must be a number from 0 to 1, not 'lots'"]


@pytest.mark.parametrize(
    ("policy", "field", "says"),
    [
        ({"strategy": "canary", "steps": []}, "steps", "at least one step"),
        ({"strategy": "canary", "steps": [{"weight": 50}, {"weight": 20}]}, "steps", "must not decrease"),
        ({"strategy": "canary", "steps": [{"weight": 0}]}, "steps", "last step must send traffic"),
        ({"strategy": "canary", "steps": "10,50"}, "steps", "must be a list"),
        ({"strategy": "canary", "steps": [{"weight": True}]}, "steps", "whole number"),
        ({"strategy": "canary", "steps": [{"weight": 10, "wait": 3}]}, "steps", "unknown settings wait"),
        ({"strategy": "shadow", "steps": [{"weight": 5}]}, "steps", "apply to canary policies, not to shadow"),
        ({"strategy": "sideways"}, "strategy", "must be one of"),
        ({"analysis": {"interval_s": 0}}, "analysis", "interval_s must be from 1"),
        ({"analysis": {"max_error_rate": float("nan")}}, "analysis", "max_error_rate must be a number"),
        ({"analysis": {"max_errors": 3}}, "analysis", "unknown settings max_errors"),
        ({"analysis": [1]}, "analysis", "must be an object"),
        ({"analysis": {"max_p_value": 0}}, "analysis", "max_p_value must be from 0.0001 to 0.5, not 0"),
        ({"analysis": {"max_p_value": None}}, "analysis", "max_p_value is required"),
        ({"analysis": {"min_latency_delta_ms": -1}}, "analysis", "min_latency_delta_ms must be from 0"),
        ({"on_failure": "panic"}, "on_failure", "rollback, pause"),
        ({"shadow_percent": 150}, "shadow_percent", "from 0 to 100"),
        ({"keep_warm_s": None}, "keep_warm_s", "null is not allowed"),
    ],
)
def test_each_problem_names_its_field(policy, field, says):
    problems = policy_problems(policy)
    assert field in problems, problems
    assert any(says in message for message in problems[field]), problems[field]
