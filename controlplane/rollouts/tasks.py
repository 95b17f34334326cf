"""Thin Celery shells over the rollout services: they take ids (or nothing), never model instances."""

import logging

from celery import shared_task

from .reconcile import reconcile as reconcile_service
from .services import rollout_tick as rollout_tick_service
from .services import rollouts_resume_stalled

logger = logging.getLogger(__name__)


@shared_task(name="rollouts.reconcile", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reconcile(force: bool = False) -> str:
    outcome = reconcile_service(force=force)
    if outcome.error:
        logger.warning("reconcile failed: %s", outcome.error)
    elif outcome.applied:
        logger.info("reconcile applied %s (%s)", outcome.config_hash[:12], outcome.reason)
    return outcome.reason


@shared_task(name="rollouts.tick", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def rollout_tick(rollout_id: int) -> str:
    rollout = rollout_tick_service(rollout_id=rollout_id)
    return rollout.phase if rollout is not None else "gone"


@shared_task(name="rollouts.resume_stalled", ignore_result=True)
def resume_stalled() -> list[int]:
    return rollouts_resume_stalled()
