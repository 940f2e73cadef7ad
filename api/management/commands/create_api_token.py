from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from api.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (it is stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username the token acts as (its clinic and role)")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="days until the token expires (default: never)"
        )
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument("--webhook-url", default="", help="URL POSTed a notice when a diagnosis is written")

    def handle(self, *args, user, expires_days, name, webhook_url, **options):
        account = User.objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"no user named {user!r}")
        if expires_days is not None and not 1 <= expires_days <= 36500:
            raise CommandError("--expires-days must be from 1 to 36500 (100 years)")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            token, secret = api_token_create(user=account, name=name, expires_at=expires_at, webhook_url=webhook_url)
        except (ValueError, ValidationError) as exc:
            raise CommandError(str(exc)) from None
        if webhook_url:
            from api.webhooks import signing_secret

            self.stderr.write(f"webhook signing secret (shown once): {signing_secret(token)}")
        self.stdout.write(secret)
