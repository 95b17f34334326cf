"""Turning the replicas' cumulative metrics into the engine's observation."""

from controlplane.rollouts.observe import observe


def text(*lines: str) -> str:
    return "\n".join(["# TYPE ray_raylane_requests gauge", *lines]) + "\n"


def requests_line(replica: str, version: int, code: int, value: float) -> str:
    return f'ray_raylane_requests{{model="iris",version="{version}",code="{code}",replica="{replica}"}} {value}'


def ready_line(replica: str, version: int, value: float) -> str:
    return f'ray_raylane_version_ready{{model="iris",version="{version}",replica="{replica}"}} {value}'


def test_deltas_since_the_last_snapshot_and_replica_restarts():
    first, snapshot = observe(
        metrics_text=text(requests_line("a", 2, 200, 100), requests_line("b", 2, 500, 10), ready_line("a", 2, 1)),
        model="iris",
        stable=1,
        candidate=2,
        replica_ids={"a", "b"},
        previous={},
    )
    assert (first.candidate.requests, first.candidate.errors, first.candidate_ready) == (110, 10, False)
    second, _ = observe(
        metrics_text=text(
            requests_line("a", 2, 200, 130), requests_line("b", 2, 500, 4), ready_line("a", 2, 1), ready_line("b", 2, 1)
        ),
        model="iris",
        stable=1,
        candidate=2,
        replica_ids={"a", "b"},
        previous=snapshot,
    )
    # replica a answered 30 more; b restarted (4 < 10), so all 4 of its errors are new
    assert (second.candidate.requests, second.candidate.errors, second.candidate_ready) == (34, 4, True)


def test_p99_from_latency_buckets_and_a_failed_load():
    buckets = [
        f'ray_raylane_request_latency_ms_bucket{{model="iris",version="2",le="{le}",replica="a"}} {count}'
        for le, count in (("10.0", 50), ("50.0", 98), ("100.0", 100), ("+Inf", 100))
    ]
    observation, _ = observe(
        metrics_text=text(*buckets, ready_line("a", 2, -1)),
        model="iris",
        stable=1,
        candidate=2,
        replica_ids={"a"},
        previous={},
    )
    assert observation.candidate.p99_ms == 100.0
    assert "failed to load on 1 replica" in observation.candidate_failed and not observation.candidate_ready


def test_other_models_are_ignored():
    other = 'ray_raylane_requests{model="fraud",version="2",code="200",replica="a"} 50'
    observation, _ = observe(
        metrics_text=text(other), model="iris", stable=1, candidate=2, replica_ids={"a"}, previous={}
    )
    assert observation.candidate.requests == 0
