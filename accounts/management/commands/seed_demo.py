import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Clinic, User
from patients.models import Patient

USERS = [
    ("staff_a", "Clinic A", User.Role.STAFF, "Sam", "Staff"),
    ("doctor_a", "Clinic A", User.Role.DOCTOR, "Dana", "Doctor"),
    ("admin", "Clinic A", User.Role.ADMIN, "Alex", "Admin"),
    ("staff_b", "Clinic B", User.Role.STAFF, "Bo", "Staff"),
]
PATIENTS = [
    ("Clinic A", "A-1001", "Meyer", "Anna", "1956-03-14", "female"),
    ("Clinic A", "A-1002", "Okafor", "Daniel", "1949-11-02", "male"),
    ("Clinic A", "A-1003", "Lindqvist", "Eva", "1971-07-21", "female"),
    ("Clinic B", "B-2001", "Rossi", "Marco", "1962-01-30", "male"),
]


class Command(BaseCommand):
    help = "Create demo clinics, users and patients (safe to run twice)."

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.DJANGO_ENV == "production":
            # it would create demo clinics and an administrator, and reset the passwords of any accounts
            # that happen to have the demo users' names
            raise CommandError("seed_demo creates demo users and data; it refuses to run with DJANGO_ENV=production")
        password = os.environ.get("DEMO_PASSWORD")
        clinics = {name: Clinic.objects.get_or_create(name=name)[0] for name in {c for _, c, *_ in USERS}}
        created = []
        for username, clinic, role, first, last in USERS:
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={
                    "clinic": clinics[clinic],
                    "role": role,
                    "first_name": first,
                    "last_name": last,
                    # the demo's administrator is the installation's: model versions serve every clinic
                    "is_superuser": username == "admin",
                },
            )
            if was_created or password:
                user_password = password or secrets.token_urlsafe(12)
                user.set_password(user_password)
                user.save()
                created.append((username, user_password if not password else "(DEMO_PASSWORD)"))
        for clinic, mrn, family, given, dob, sex in PATIENTS:
            Patient.objects.get_or_create(
                clinic=clinics[clinic],
                mrn=mrn,
                defaults={"family_name": family, "given_name": given, "date_of_birth": dob, "sex": sex},
            )
        if created:
            self.stdout.write("Demo users (username / password):")
            for username, pw in created:
                self.stdout.write(f"  {username:10s} {pw}")
        else:
            self.stdout.write("Demo data already present; passwords unchanged (set DEMO_PASSWORD to reset them).")
