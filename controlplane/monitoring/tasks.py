"""Thin Celery shells over the metric history services (beat runs them)."""

from celery import shared_task

from .services import prune_metrics, rollup_metrics


@shared_task(name="monitoring.rollup", ignore_result=True)
def rollup() -> int:
    return rollup_metrics()


@shared_task(name="monitoring.prune", ignore_result=True)
def prune() -> dict[str, int]:
    return prune_metrics()
