"""Which version answers a request: weighted split, sticky sessions, pins, and the shadow copy. Pure logic."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

import numpy as np

KEY_HEADER = "x-raylane-key"
KEY_PREFIX = "rk_"


def hash_key(key: str) -> str:
    """Data-plane keys are kept as sha256 hex digests: user_config, the database and logs never hold one."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Access:
    """Who may call a deployment's inference routes, from `user_config["access"]`: with `require_key`, every
    request needs a key whose hash is listed; with `pins == "keyed"`, only requests with such a key may pin a
    version (`X-Raylane-Version` or `/versions/<n>/`), so outsiders can only reach the weighted split."""

    key_hashes: frozenset[str] = frozenset()
    require_key: bool = False
    pins: str = "open"  # or "keyed"

    @classmethod
    def from_user_config(cls, raw: Any) -> Access:
        if not isinstance(raw, dict):
            return cls()
        hashes = raw.get("key_hashes") or ()
        return cls(
            key_hashes=frozenset(str(value) for value in hashes if isinstance(value, str)),
            require_key=bool(raw.get("require_key")),
            pins="keyed" if raw.get("pins") == "keyed" else "open",
        )

    def key_is_valid(self, headers: Any) -> bool:
        """A key from `X-Raylane-Key` or `Authorization: Bearer rk_…` whose hash is listed."""
        key = (headers.get(KEY_HEADER) or "").strip()
        if not key:
            scheme, _, value = (headers.get("authorization") or "").partition(" ")
            key = value.strip() if scheme.lower() == "bearer" else ""
        return bool(key) and key.startswith(KEY_PREFIX) and hash_key(key) in self.key_hashes

    def refusal(self, headers: Any, *, pinned: bool) -> tuple[int, str] | None:
        """(status, message) when this request may not go on, else None. Checked before a version is chosen."""
        if not self.require_key and not (pinned and self.pins == "keyed"):
            return None
        if self.key_is_valid(headers):
            return None
        if self.require_key:
            return 401, "this model needs a data-plane key: send X-Raylane-Key: rk_… (or Authorization: Bearer rk_…)"
        return 403, "pinning a version of this model needs a data-plane key (X-Raylane-Key: rk_…); the split does not"


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

    def effective(self, ready: Set[int]) -> tuple[tuple[int, int], ...]:
        """Weights restricted to versions that can answer; a failed version's share goes to the others."""
        return tuple((version, percent) for version, percent in self.weights if version in ready and percent > 0)

    def choose(self, ready: Set[int], *, rng: random.Random, session: str | None = None) -> int:
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

    def shadow_for(self, primary: int, ready: Set[int], *, rng: random.Random) -> int | None:
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
