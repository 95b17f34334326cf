from celery import shared_task

from .services import artifacts_collect_orphans


@shared_task(name="registry.collect_orphan_artifacts")
def collect_orphan_artifacts() -> int:
    return artifacts_collect_orphans()
