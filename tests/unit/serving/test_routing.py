import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving.routing import Access, NoVersionAvailable, RoutingTable, hash_key, outputs_agree


def test_split_follows_weights():
    table = RoutingTable(((1, 90), (2, 10)))
    rng = random.Random(7)
    counts = Counter(table.choose({1, 2}, rng=rng) for _ in range(20_000))
    assert abs(counts[2] / 20_000 - 0.10) < 0.01


def test_a_version_that_is_not_ready_gets_no_traffic():
    table = RoutingTable(((1, 90), (2, 10)))
    rng = random.Random(1)
    assert {table.choose({1}, rng=rng) for _ in range(500)} == {1}
    with pytest.raises(NoVersionAvailable):
        table.choose({3}, rng=rng)


@given(session=st.text(min_size=1, max_size=40))
def test_sticky_sessions_stay_on_one_version_for_a_weight_vector(session):
    table = RoutingTable(((1, 50), (2, 50)))
    rng = random.Random()
    assert len({table.choose({1, 2}, rng=rng, session=session) for _ in range(5)}) == 1


def test_sticky_sessions_spread_across_versions():
    table = RoutingTable(((1, 50), (2, 50)))
    chosen = Counter(table.choose({1, 2}, rng=random.Random(), session=f"user-{i}") for i in range(2000))
    assert 0.4 < chosen[1] / 2000 < 0.6


def test_shadow_mirrors_a_share_and_never_to_the_primary():
    table = RoutingTable(((1, 100),), shadow_version=2, shadow_percent=25)
    rng = random.Random(3)
    mirrored = sum(table.shadow_for(1, {1, 2}, rng=rng) == 2 for _ in range(10_000))
    assert 0.22 < mirrored / 10_000 < 0.28
    assert table.shadow_for(2, {1, 2}, rng=rng) is None
    assert table.shadow_for(1, {1}, rng=rng) is None


def test_from_user_config():
    table = RoutingTable.from_user_config({"weights": {"2": 10, "1": 90}, "shadow": {"version": 3, "percent": 5}})
    assert table == RoutingTable(((1, 90), (2, 10)), 3, 5)


def test_agreement():
    assert outputs_agree(np.array([0, 1, 2]), np.array([0, 1, 2]))
    assert not outputs_agree(np.array([0, 1, 2]), np.array([0, 1, 1]))
    assert outputs_agree(np.array([0.1, 0.2]), np.array([0.1 + 1e-9, 0.2]))
    assert not outputs_agree(np.array([0.1, 0.2]), np.array([0.1]))
    assert outputs_agree({"a": np.array([1])}, {"a": np.array([1])})
    assert not outputs_agree({"a": np.array([1])}, np.array([1]))


# --- data-plane keys and who may pin (issue 10) -------------------------------------------------------------------

KEY = "rk_" + "k" * 40


def test_keyed_pins_need_a_listed_key_and_unpinned_requests_do_not():
    access = Access.from_user_config({"key_hashes": [hash_key(KEY)], "pins": "keyed"})
    assert access.refusal({}, pinned=False) is None
    status, message = access.refusal({}, pinned=True)
    assert status == 403 and "data-plane key" in message
    assert access.refusal({"x-raylane-key": KEY}, pinned=True) is None
    assert access.refusal({"authorization": f"Bearer {KEY}"}, pinned=True) is None
    assert access.refusal({"x-raylane-key": "rk_wrong"}, pinned=True)[0] == 403
    assert access.refusal({"x-raylane-key": hash_key(KEY)}, pinned=True)[0] == 403, "the hash is not the key"


def test_required_keys_guard_every_request_and_open_is_the_default():
    access = Access.from_user_config({"key_hashes": [hash_key(KEY)], "require_key": True})
    assert access.refusal({}, pinned=False)[0] == 401
    assert access.refusal({"authorization": f"bearer {KEY}"}, pinned=False) is None
    assert Access.from_user_config(None).refusal({}, pinned=True) is None
    assert Access.from_user_config({"pins": "whatever"}).pins == "open"
