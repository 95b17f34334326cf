"""The one place the control plane gets its ServeCluster: the real Ray dashboard, or the in-memory twin."""

import os
from functools import cache

from django.conf import settings

from serving.cluster import RayDashboardCluster, ServeCluster
from serving.cluster_twin import InMemoryServeCluster


@cache
def in_memory_cluster() -> InMemoryServeCluster:
    return InMemoryServeCluster()


def serve_cluster() -> ServeCluster:
    if settings.RAYLANE_SERVE_CLUSTER == "memory":
        return in_memory_cluster()
    return RayDashboardCluster.from_env({**os.environ, "RAY_DASHBOARD_URL": settings.RAY_DASHBOARD_URL})
