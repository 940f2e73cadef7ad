"""Create the PostgreSQL database of DATABASE_URL if it is missing and the user may create it.

The run command calls this before migrating, so a newcomer's first `make run` with a new database
name works; without the right to create it, it stops with one line naming the database.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

INVALID_CATALOG_NAME = "3D000"  # PostgreSQL: the database does not exist


class Command(BaseCommand):
    help = "Create the configured PostgreSQL database if it does not exist (nothing to do for SQLite)."
    requires_system_checks: list[str] = []  # they could need the database this command creates

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            return
        import psycopg2
        from psycopg2 import sql

        params = connection.get_connection_params()
        name = params.get("dbname") or params.get("database")
        where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
        try:
            psycopg2.connect(**params).close()
            return
        except psycopg2.OperationalError as exc:
            if f'database "{name}" does not exist' not in str(exc):
                raise CommandError(f"cannot reach PostgreSQL at {where}: {_first_line(exc)}") from None
        user = params.get("user") or "the current user"
        try:
            admin = psycopg2.connect(**{**params, "dbname": "postgres"})
        except psycopg2.Error as exc:
            raise CommandError(
                f'database "{name}" does not exist at {where}, and connecting to create it failed: {_first_line(exc)}'
            ) from None
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg2.errors.DuplicateDatabase:
            return  # created meanwhile by another process
        except psycopg2.Error:
            raise CommandError(
                f'database "{name}" does not exist at {where} and user {user} may not create it: '
                f"create it (createdb -h {where.split(':')[0]} -p {where.split(':')[1]} {name}) or ask its administrator"
            ) from None
        finally:
            admin.close()
        self.stdout.write(f'Created the PostgreSQL database "{name}" at {where}.')


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
