import factory

from accounts.models import Clinic, User
from patients.models import Patient


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Clinic {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    clinic = factory.SubFactory(ClinicFactory)
    role = User.Role.STAFF
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"MRN-{n:05d}")
    family_name = factory.Faker("last_name")
    given_name = factory.Faker("first_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=20, maximum_age=90)


def signal_recording(*, patient, uploaded_by, status: str, **fields):
    """A signal recording made directly (no file, no upload, no worker), in ``status``: its page all the same."""
    from diagnostics.models import ECGRecording

    return ECGRecording.objects.create(
        clinic=patient.clinic,
        patient=patient,
        uploaded_by=uploaded_by,
        file="recordings/holter.csv",
        original_filename="holter.csv",
        input_format="csv",
        kind="signal",
        sha256="0" * 64,
        status=status,
        **fields,
    )


def done_recordings(n, *, clinic, staff, doctor, models):
    """``n`` classified, MI-flagged recordings, each with a diagnosis and two reviews (no files)."""
    from diagnostics.models import Diagnosis, ECGRecording, Review

    patients = [PatientFactory(clinic=clinic) for _ in range(min(n, 10))]
    recordings = ECGRecording.objects.bulk_create(
        ECGRecording(
            clinic=clinic,
            patient=patients[i % len(patients)],
            uploaded_by=staff,
            file=f"recordings/{i}.csv",
            input_format="csv",
            kind="beats",
            sha256="0" * 64,
            status="done",
            input_beat_count=6,
        )
        for i in range(n)
    )
    diagnoses = Diagnosis.objects.bulk_create(
        Diagnosis(
            recording=r,
            clinic=clinic,
            beat_count=6,
            count_n=6,
            count_s=0,
            count_v=0,
            count_f=0,
            count_q=0,
            mi_score=0.9,
            mi_threshold=0.5,
            mi_flag=True,
            heartbeat_model=models["heartbeat"],
            mi_model=models["mi"],
        )
        for r in recordings
    )
    Review.objects.bulk_create(
        Review(diagnosis=d, clinic=clinic, reviewer=doctor, decision=decision, note="")
        for d in diagnoses
        for decision in ("confirm", "reject")
    )
    return recordings
