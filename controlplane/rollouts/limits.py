"""A deployment's own limits on one inference request (serving.protocol.Limits): what a deployer may set, and what
the replicas enforce.

`Deployment.limits` holds only what the deployer chose; a null or absent limit takes the site default
(RAYLANE_INFERENCE_MAX_*), so changing a default reaches every deployment that did not choose. Lowering a limit is
always allowed. Raising one stops at a site-wide ceiling: body size and element count decide how much memory one
request takes in a replica that other requests (and, when pooled, other teams' models) share, so the operator, not
the deployer, decides how far they may go. The limits travel in user_config: a change applies in place, without
restarting a replica.
"""

from typing import Any

from django.conf import settings

from controlplane.core.errors import ApplicationError
from serving.config import RequestLimits

LIMIT_NAMES = ("max_body_bytes", "max_elements", "max_depth")
# Nesting a model needs is a handful of levels (the v2 envelope adds three); the model server walks the parsed body
# without recursion, and json.loads recurses far below Python's limit at this depth.
MAX_DEPTH_CEILING = 256
CEILING_SETTINGS = {
    "max_body_bytes": "RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING",
    "max_elements": "RAYLANE_INFERENCE_MAX_ELEMENTS_CEILING",
}


def site_defaults() -> dict[str, int]:
    return {
        "max_body_bytes": settings.RAYLANE_INFERENCE_MAX_BODY_BYTES,
        "max_elements": settings.RAYLANE_INFERENCE_MAX_ELEMENTS,
        "max_depth": settings.RAYLANE_INFERENCE_MAX_DEPTH,
    }


def ceilings() -> dict[str, int]:
    """The highest value a deployer may set: the site ceiling, never below the site default (so the default is
    always a valid choice, even when an operator raised it past the ceiling)."""
    defaults = site_defaults()
    return {
        "max_body_bytes": max(settings.RAYLANE_INFERENCE_MAX_BODY_BYTES_CEILING, defaults["max_body_bytes"]),
        "max_elements": max(settings.RAYLANE_INFERENCE_MAX_ELEMENTS_CEILING, defaults["max_elements"]),
        "max_depth": max(MAX_DEPTH_CEILING, defaults["max_depth"]),
    }


def limits_validated(raw: Any) -> dict[str, int | None]:
    """The limits a request sets, with every name present (null: the site default), or a 400 naming the one at
    fault. A null or empty `limits` means the defaults for all three."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApplicationError(
            'limits: must be an object such as {"max_depth": 16}, or null for the site defaults', field="limits"
        )
    for name in raw:
        if name not in LIMIT_NAMES:
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise ApplicationError(
                f"limits.{shown}: not a limit; the limits are {', '.join(LIMIT_NAMES)}", field=f"limits.{shown}"
            )
    highest = ceilings()
    validated: dict[str, int | None] = {}
    for name in LIMIT_NAMES:
        value = raw.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest[name]
        ):
            raise ApplicationError(f"limits.{name}: {must_be(name, highest[name])}", field=f"limits.{name}")
        validated[name] = value
    return validated


def must_be(name: str, highest: int) -> str:
    """What a limit must be, and where its ceiling comes from (so a deployer knows whom to ask for more)."""
    if name == "max_body_bytes":
        where = f" ({highest / 1024**2:g} MiB, the site's {CEILING_SETTINGS[name]})"
    elif name in CEILING_SETTINGS:
        where = f" (the site's {CEILING_SETTINGS[name]})"
    else:
        where = ""
    return f"must be an integer from 1 to {highest}{where}, or null for the site default"


def request_limits(chosen: Any) -> RequestLimits:
    """What the replicas enforce: the deployer's value where one is set, else the site default, and never above
    today's ceiling (a ceiling lowered after a deployment was saved still holds; a value edited in by hand that is
    not a positive integer is ignored rather than stopping the fleet's reconcile)."""
    chosen = chosen if isinstance(chosen, dict) else {}
    highest, values = ceilings(), site_defaults()
    for name in LIMIT_NAMES:
        value = chosen.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            values[name] = min(value, highest[name])
    return RequestLimits(**values)
