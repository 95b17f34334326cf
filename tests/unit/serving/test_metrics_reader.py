"""From the replicas' exported cumulative numbers to per-version samples: deltas, restarts, percentiles."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving.histogram import BUCKET_LABELS, LATENCY_BOUNDARIES_MS, Histogram, quantile
from serving.metrics_reader import CounterDeltas, parse_prometheus_vector, parse_text


def requests_line(replica: str, version: int, code: int, value: float, model: str = "iris") -> str:
    return f'ray_raylane_requests{{model="{model}",version="{version}",code="{code}",replica="{replica}"}} {value}'


def ready_line(replica: str, version: int, value: float) -> str:
    return f'ray_raylane_version_ready{{model="iris",version="{version}",replica="{replica}"}} {value}'


def bucket_lines(replica: str, version: int, histogram: Histogram) -> list[str]:
    return [
        f'ray_raylane_request_latency_ms_bucket{{model="iris",version="{version}",le="{le}",replica="{replica}"}} {n}'
        for le, n in histogram.cumulative()
    ]


def text(*lines: str) -> str:
    # What a node exports: our families among lots of Ray's own, with TYPE lines.
    noise = ["# TYPE ray_node_cpu_utilization gauge", 'ray_node_cpu_utilization{ip="127.0.0.1"} 12.5']
    return "\n".join([*noise, "# TYPE ray_raylane_requests gauge", *lines]) + "\n"


def test_the_first_scrape_is_a_baseline_then_increases_and_restarts_count():
    deltas = CounterDeltas()
    first = deltas.step(parse_text(text(requests_line("a", 2, 200, 100), requests_line("b", 2, 500, 10))), 0.0)
    assert first[("iris", 2)].requests == 0, "what replicas counted before the monitor started is not this second"
    second = deltas.step(parse_text(text(requests_line("a", 2, 200, 130), requests_line("b", 2, 500, 4))), 1.0)
    # a answered 30 more; b restarted (4 < 10), so all 4 of its errors are new
    assert (second[("iris", 2)].requests, second[("iris", 2)].errors) == (34, 4)
    third = deltas.step(
        parse_text(text(requests_line("a", 2, 200, 130), requests_line("b", 2, 500, 4), requests_line("c", 2, 404, 3))),
        2.0,
    )
    # c is a replica that appeared after the baseline: everything it counted is new
    assert (third[("iris", 2)].requests, third[("iris", 2)].client_errors, third[("iris", 2)].errors) == (3, 3, 0)


def test_a_node_missing_from_one_scrape_does_not_count_twice_when_it_returns():
    deltas = CounterDeltas()
    deltas.step(parse_text(text(requests_line("a", 1, 200, 100))), 0.0)
    assert deltas.step(parse_text(text()), 1.0) == {}
    back = deltas.step(parse_text(text(requests_line("a", 1, 200, 105))), 2.0)
    assert back[("iris", 1)].requests == 5


def test_gauges_of_replicas_that_are_gone_are_ignored():
    deltas = CounterDeltas()
    readings = parse_text(text(ready_line("a", 2, 1), ready_line("dead", 2, -1), ready_line("b", 2, 0)))
    sample = deltas.step(readings, 0.0, live_replicas={"iris": {"a", "b"}})[("iris", 2)]
    assert (sample.replicas_ready, sample.replicas_loading, sample.replicas_failed) == (1, 1, 0)


def test_bucket_deltas_become_per_bucket_counts_and_percentiles():
    before, after = Histogram(), Histogram()
    for value in [3.0] * 10:
        before.observe(value)
        after.observe(value)
    for value in [3.0] * 50 + [40.0] * 45 + [400.0] * 5:  # this second: 100 requests
        after.observe(value)
    deltas = CounterDeltas()
    deltas.step(parse_text(text(*bucket_lines("a", 2, before))), 0.0)
    sample = deltas.step(parse_text(text(*bucket_lines("a", 2, after))), 1.0)[("iris", 2)]
    assert sum(sample.latency_buckets) == 100
    assert sample.latency_buckets[LATENCY_BOUNDARIES_MS.index(5)] == 50
    assert 2 < sample.percentile(0.50) <= 5
    assert 20 < sample.percentile(0.95) <= 50
    assert 200 < sample.percentile(0.99) <= 500


def test_quantiles_of_nothing_and_of_the_open_ended_bucket():
    assert quantile([0] * len(BUCKET_LABELS), 0.99) is None
    beyond = [0] * (len(BUCKET_LABELS) - 1) + [7]
    assert quantile(beyond, 0.5) == LATENCY_BOUNDARIES_MS[-1]


@given(st.lists(st.floats(min_value=0.01, max_value=20000, allow_nan=False), min_size=1, max_size=300))
def test_a_quantile_lies_in_the_bucket_of_the_true_value(values):
    histogram = Histogram()
    for value in values:
        histogram.observe(value)
    estimate = quantile(histogram.buckets, 0.99)
    true = sorted(values)[max(0, -(-99 * len(values) // 100) - 1)]
    bounds = [0.0, *LATENCY_BOUNDARIES_MS]
    index = next((i for i, bound in enumerate(LATENCY_BOUNDARIES_MS) if true <= bound), len(LATENCY_BOUNDARIES_MS))
    if index == len(LATENCY_BOUNDARIES_MS):
        assert estimate == LATENCY_BOUNDARIES_MS[-1]
    else:
        assert bounds[index] <= estimate <= bounds[index + 1]


def test_other_families_models_and_malformed_versions_are_ignored():
    lines = text(
        requests_line("a", 2, 200, 5, model="fraud"),
        'ray_raylane_requests{model="iris",version="latest",code="200",replica="a"} 5',
        'ray_serve_num_http_requests_total{application="iris"} 99',
    )
    readings = parse_text(lines)
    assert [(r.model, r.version) for r in readings] == [("fraud", 2)]


def test_readings_from_a_prometheus_query_answer():
    body = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {
                    "metric": {"__name__": "ray_raylane_requests", "model": "iris", "version": "3", "code": "200",
                               "replica": "r1", "instance": "10.0.0.2:8080"},
                    "value": [1700000000.0, "42"],
                },
                {"metric": {"__name__": "up"}, "value": [1700000000.0, "1"]},
            ],
        },
    }  # fmt: skip
    (reading,) = parse_prometheus_vector(body)
    assert (reading.model, reading.version, reading.label, reading.value) == ("iris", 3, "200", 42.0)


@pytest.mark.parametrize("le", ["5", "5.0", "+Inf"])
def test_bucket_labels_in_either_spelling(le):
    from serving.histogram import bucket_index

    assert bucket_index(le) is not None


def routed_line(version: int, code: int, routed: str, value: float, replica: str = "a") -> str:
    labels = f'model="iris",version="{version}",code="{code}",routed="{routed}",replica="{replica}"'
    return f"ray_raylane_requests{{{labels}}} {value}"


def routed_buckets(version: int, routed: str, histogram: Histogram, replica: str = "a") -> list[str]:
    return [
        f'ray_raylane_request_latency_ms_bucket{{model="iris",version="{version}",routed="{routed}",le="{le}",'
        f'replica="{replica}"}} {n}'
        for le, n in histogram.cumulative()
    ]


def test_pinned_requests_and_client_errors_are_counted_apart_from_the_split():
    """What a rollout's analysis reads (split_*) is the weighted split's answers without 4xx: a flood of pinned
    requests failing with 500s, or of garbage answered 400 slowly, shows in the totals but not there."""
    fast, slow, garbage = Histogram(), Histogram(), Histogram()
    for _ in range(100):
        fast.observe(3)
    for _ in range(1000):
        slow.observe(9000)
        garbage.observe(8000)

    def export(scale: int) -> str:
        lines = [
            routed_line(2, 200, "split", 100 * scale),
            routed_line(2, 500, "pinned", 1000 * scale),
            routed_line(2, 400, "split", 1000 * scale),
            routed_line(2, 400, "pinned", 1000 * scale),
        ]
        if scale:
            lines += [*routed_buckets(2, "split", fast), *routed_buckets(2, "pinned", slow)]
            lines += routed_buckets(2, "rejected", garbage)
        return text(*lines)

    deltas = CounterDeltas()
    deltas.step(parse_text(export(0)), 0.0)
    sample = deltas.step(parse_text(export(1)), 1.0)[("iris", 2)]
    assert (sample.requests, sample.errors, sample.client_errors) == (3100, 1000, 2000)
    assert (sample.split_requests, sample.split_errors, sample.pinned_requests) == (100, 0, 2000)
    assert sum(sample.split_latency_buckets) == 100 and quantile(sample.split_latency_buckets, 0.99) <= 5
    assert sum(sample.latency_buckets) == 2100


def test_series_from_replicas_without_the_routed_label_count_as_split():
    deltas = CounterDeltas()
    deltas.step(parse_text(text(requests_line("a", 1, 200, 0), requests_line("a", 1, 503, 0))), 0.0)
    sample = deltas.step(parse_text(text(requests_line("a", 1, 200, 8), requests_line("a", 1, 503, 2))), 1.0)
    assert (sample[("iris", 1)].split_requests, sample[("iris", 1)].split_errors) == (10, 2)
