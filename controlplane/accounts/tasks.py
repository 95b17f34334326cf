from celery import shared_task

from .services import tokens_prune_expired


@shared_task(name="accounts.prune_expired_tokens")
def prune_expired_tokens() -> int:
    return tokens_prune_expired()
