"""Latencies as the engine sees them: bucketed exactly as the model servers bucket them (serving.histogram), the top
bucket open-ended, for the statistics and engine tests."""

from controlplane.rollouts.statistics import Histogram, Names
from serving.histogram import LATENCY_BOUNDARIES_MS
from serving.histogram import Histogram as ServerHistogram

BOUNDS = tuple(float(bound) for bound in LATENCY_BOUNDARIES_MS)
NAMES = Names(candidate="v2", stable="v1")


def bucketed(latencies_ms) -> Histogram:
    server = ServerHistogram()
    for latency in latencies_ms:
        server.observe(latency)
    return Histogram(BOUNDS, tuple(server.buckets))
