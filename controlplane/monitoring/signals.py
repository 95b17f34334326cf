"""A deleted deployment's kept log lines go with it (its metric samples go by cascade)."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from controlplane.rollouts.models import Deployment

from . import logs


@receiver(post_delete, sender=Deployment)
def forget_logs(sender: type, instance: Deployment, **kwargs: Any) -> None:
    pk = instance.pk
    transaction.on_commit(lambda: logs.forget(pk))
