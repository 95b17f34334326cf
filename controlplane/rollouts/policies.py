"""The one validator of rollout policies: steps, analysis and the strategy's own settings.

The policy services (rollouts.services.policies, which the API calls after its serializer checked the shape), the
model's `clean()` (so the Django admin refuses a bad policy with the field named) and policy files all call
`policy_problems`, and `rollout_start` calls it again on the
policy it snapshots, so a row written around it (raw SQL, an old admin) can never reach the engine. It answers
messages for people, keyed by the policy's field; the callers raise them in their framework's error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

STRATEGIES = ("direct", "canary", "blue_green", "shadow")
ON_FAILURE = ("rollback", "pause")
WEEK_S = 7 * 24 * 3600
MAX_STEPS = 100

# analysis setting → (whole numbers only, lowest, highest, may be null)
ANALYSIS_RANGES: dict[str, tuple[bool, float, float, bool]] = {
    "interval_s": (True, 1, 3600, False),
    "initial_delay_s": (True, 0, 3600, False),
    "min_requests": (True, 0, 10**9, False),
    "max_error_rate": (False, 0, 1, True),
    "max_p99_ms": (False, 0, 10**7, True),
    "max_p99_ratio": (False, 1, 1000, True),
    "min_shadow_agreement": (False, 0, 1, True),
    "failure_limit": (True, 1, 1000, False),
    "inconclusive_limit": (True, 1, 1000, False),
    "max_p_value": (False, 0.0001, 0.5, False),  # how strong the evidence a gate fails on (docs/rollouts.md)
    "min_latency_delta_ms": (False, 0, 10**6, False),  # under max_p99_ratio: a slowdown smaller than this passes
}
# top-level setting → (lowest, highest, may be null); all whole numbers
SETTING_RANGES: dict[str, tuple[int, int, bool]] = {
    "progress_deadline_s": (0, WEEK_S, False),
    "shadow_percent": (0, 100, False),
    "auto_promote_s": (0, WEEK_S, True),
    "keep_warm_s": (0, WEEK_S, False),
}


def number_problem(value: Any, *, whole: bool, low: float, high: float, nullable: bool) -> str | None:
    """Why `value` is not a number in [low, high] (a whole one if `whole`), or None when it is."""
    if value is None:
        return None if nullable else "is required (null is not allowed)"
    kind = "a whole number" if whole else "a number"
    is_number = isinstance(value, int) or (not whole and isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not is_number:
        return f"must be {kind} from {low:g} to {high:g}, not {value!r}"
    if not low <= value <= high:
        return f"must be from {low:g} to {high:g}, not {value!r}"
    return None


def steps_problems(strategy: str, steps: Any) -> list[str]:
    if not isinstance(steps, list):
        return [f"must be a list of {{weight, pause_s}}, not {type(steps).__name__}"]
    if len(steps) > MAX_STEPS:
        return [f"at most {MAX_STEPS} steps, not {len(steps)}"]
    if steps and strategy != "canary":
        return [f"steps apply to canary policies, not to {strategy}"]
    if strategy == "canary" and not steps:
        return ["a canary policy needs at least one step"]
    problems: list[str] = []
    for index, step in enumerate(steps):
        where = f"step {index + 1}"
        if not isinstance(step, dict):
            problems.append(f"{where} must be {{weight, pause_s}}, not {step!r}")
            continue
        if unknown := sorted(set(step) - {"weight", "pause_s"}):
            problems.append(f"{where}: unknown settings {', '.join(map(str, unknown))}; a step has weight and pause_s")
        if "weight" not in step:
            problems.append(f"{where}: weight is required")
        elif problem := number_problem(step["weight"], whole=True, low=0, high=100, nullable=False):
            problems.append(f"{where}: weight {problem}")
        pause = number_problem(step.get("pause_s"), whole=True, low=0, high=WEEK_S, nullable=True)
        if pause:
            problems.append(f"{where}: pause_s {pause} (null waits for a person to promote)")
    if problems:
        return problems
    weights = [step["weight"] for step in steps]
    if weights != sorted(weights):
        problems.append(f"step weights must not decrease: {weights}")
    if weights and weights[-1] == 0:
        problems.append("the last step must send traffic to the new version")
    return problems


def analysis_problems(analysis: Any) -> list[str]:
    if not isinstance(analysis, dict):
        return [f"must be an object of analysis settings, not {type(analysis).__name__}"]
    problems = []
    if unknown := sorted(set(analysis) - set(ANALYSIS_RANGES)):
        problems.append(
            f"unknown settings {', '.join(map(str, unknown))}; the settings are {', '.join(ANALYSIS_RANGES)}"
        )
    for name, (whole, low, high, nullable) in ANALYSIS_RANGES.items():
        if name in analysis and (problem := number_problem(analysis[name], whole=whole, low=low, high=high,
                                                            nullable=nullable)):  # fmt: skip
            problems.append(f"{name} {problem}")
    return problems


def policy_problems(policy: Mapping[str, Any]) -> dict[str, list[str]]:
    """Everything wrong with a policy given as its fields (a snapshot, a request, a file), by field; {} when it is
    sound. Fields left out are not checked (a partial update names only what it changes)."""
    problems: dict[str, list[str]] = {}
    strategy = policy.get("strategy", "canary")
    if strategy not in STRATEGIES:
        problems["strategy"] = [f"must be one of {', '.join(STRATEGIES)}, not {strategy!r}"]
    elif "steps" in policy and (found := steps_problems(strategy, policy["steps"])):
        problems["steps"] = found
    if "analysis" in policy and (found := analysis_problems(policy["analysis"])):
        problems["analysis"] = found
    if "on_failure" in policy and policy["on_failure"] not in ON_FAILURE:
        problems["on_failure"] = [f"must be one of {', '.join(ON_FAILURE)}, not {policy['on_failure']!r}"]
    for name, (low, high, nullable) in SETTING_RANGES.items():
        if name in policy and (problem := number_problem(policy[name], whole=True, low=low, high=high,
                                                          nullable=nullable)):  # fmt: skip
            problems[name] = [problem]
    return problems


def simple_steps(
    *, step_weight: int | None = None, max_weight: int | None = None, interval_s: int | None = None
) -> list[dict[str, int]]:
    """Flagger-style stepping, the simple way to write a canary: +step_weight every interval_s (default 60) until
    max_weight (default 100), then everything."""
    if step_weight is None:
        raise ValidationError({"step_weight": ["Simple mode needs step_weight."]})
    ceiling = max_weight or 100
    if step_weight > ceiling:
        raise ValidationError({"max_weight": [f"Must be at least step_weight ({step_weight})."]})
    pause = 60 if interval_s is None else interval_s
    weights = list(range(step_weight, ceiling + 1, step_weight))
    if weights[-1] != 100:
        weights.append(100)
    return [{"weight": weight, "pause_s": pause if weight < 100 else 0} for weight in weights]


def policy_check(policy: Mapping[str, Any]) -> None:
    """Raise the problems as Django's ValidationError by field: a ModelForm (the admin) shows each on its field,
    and the API's exception handler answers it as a 400 that names the field."""
    if problems := policy_problems(policy):
        raise ValidationError(problems)
