from celery import shared_task


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt, over within api.webhooks.DEADLINE_SECONDS whatever the receiver does (the worker is
    shared with classification); a failure is logged on the delivery and retried, with back-off, by the
    periodic sweep."""
    from .services import webhook_deliver

    return webhook_deliver(delivery_id=delivery_id)
