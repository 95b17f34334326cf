"""Which version answers a request: weighted split, sticky sessions, pins, and the shadow copy. Pure logic."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import numpy as np


class NoVersionAvailable(Exception):
    """No version that takes traffic is loaded: the request gets a 503 naming the versions and their state."""


@dataclass(frozen=True)
class RoutingTable:
    weights: tuple[tuple[int, int], ...]  # (version, percent), sorted by version
    shadow_version: int | None = None
    shadow_percent: int = 0

    @classmethod
    def from_user_config(cls, config: dict[str, Any]) -> RoutingTable:
        weights = tuple(sorted((int(version), int(percent)) for version, percent in config["weights"].items()))
        shadow = config.get("shadow")
        if shadow:
            return cls(weights, int(shadow["version"]), int(shadow["percent"]))
        return cls(weights)

    def effective(self, ready: set[int]) -> tuple[tuple[int, int], ...]:
        """Weights restricted to versions that can answer; a failed version's share goes to the others."""
        return tuple((version, percent) for version, percent in self.weights if version in ready and percent > 0)

    def choose(self, ready: set[int], *, rng: random.Random, session: str | None = None) -> int:
        weights = self.effective(ready)
        total = sum(percent for _, percent in weights)
        if total == 0:
            raise NoVersionAvailable("no version that takes traffic is loaded")
        if session:
            # The same session lands on the same version while the weight vector stays the same.
            digest = hashlib.sha256(f"{session}|{weights}".encode()).digest()
            point = int.from_bytes(digest[:8], "big") % total
        else:
            point = rng.randrange(total)
        for version, percent in weights:
            if point < percent:
                return version
            point -= percent
        return weights[-1][0]

    def shadow_for(self, primary: int, ready: set[int], *, rng: random.Random) -> int | None:
        """The version that gets a mirrored copy of this request, if any; its answer is never returned."""
        if self.shadow_version is None or self.shadow_version == primary or self.shadow_version not in ready:
            return None
        return self.shadow_version if rng.randrange(100) < self.shadow_percent else None


def outputs_agree(primary: Any, shadow: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Shadow agreement: equal labels, or numbers equal within a tolerance; shapes must match."""

    if isinstance(primary, dict) or isinstance(shadow, dict):
        if not (isinstance(primary, dict) and isinstance(shadow, dict)) or primary.keys() != shadow.keys():
            return False
        return all(outputs_agree(primary[key], shadow[key], rtol=rtol, atol=atol) for key in primary)
    left, right = np.asarray(primary), np.asarray(shadow)
    if left.shape != right.shape:
        return False
    if left.dtype.kind in "fc" or right.dtype.kind in "fc":
        try:
            return bool(np.allclose(left.astype(float), right.astype(float), rtol=rtol, atol=atol, equal_nan=True))
        except (TypeError, ValueError):
            return False
    return bool(np.array_equal(left, right))
