import datetime
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from ecgsite.text import invisible_character

from .search import search_text

EARLIEST_BIRTH = datetime.date(1900, 1, 1)  # no one living was born before it


def validate_date_of_birth(value: datetime.date | None, *, stored: datetime.date | None = None) -> None:
    """A date of birth a living patient can have: not in the future, not before 1900. The web form and
    the API both check a date given to them here (PatientForm, PatientSerializer). A patient's ``stored``
    date passes as it is, so a date kept from before this check blocks no other change to the patient."""
    if value is None or (stored is not None and value == stored):
        return
    if value > timezone.localdate():
        raise ValidationError("The date of birth is in the future.", code="future")
    if value < EARLIEST_BIRTH:
        raise ValidationError("The date of birth is before 1900.", code="too_early")


def identity_text_check(value: str, what: str) -> None:
    """A patient's name or MRN holds no control character (a line break, a tab, NUL...) and no bidirectional
    control: they reached lists, the CSV and FHIR as they were."""
    ch = invisible_character(value, marks=False)
    if ch is not None:
        raise ValidationError(
            f"The {what} contains an invisible control character (U+{ord(ch):04X}); type it as plain text.",
            code="control_character",
        )


def normal_mrn(value: str) -> str:
    """An MRN as stored and compared: Unicode-compatible forms made plain (NFKC: a full-width "Ａ-1001" from an
    East Asian keyboard is "A-1001", which it had been stored beside as a second identity), outer spaces off."""
    return unicodedata.normalize("NFKC", value).strip()


# What a patient's search_text is folded from
SEARCHED_FIELDS = frozenset({"mrn", "family_name", "given_name"})


class PatientQuerySet(models.QuerySet["Patient"]):
    """Writes that go past Patient.save keep search_text in step with the MRN and names too."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for patient in objs:
            patient.search_text = patient.folded_search_text()
        created = super().bulk_create(objs, *args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if kwargs.get("update_conflicts") and update_fields and not SEARCHED_FIELDS.isdisjoint(update_fields):
            # an upsert rewrote only these fields of the rows it clashed with: their search_text is refolded from
            # what the rows hold now, not from the objects given
            rows = models.QuerySet(self.model, using=self.db).filter(pk__in=[p.pk for p in created if p.pk])
            patients = list(rows.only("pk", *SEARCHED_FIELDS))
            for patient in patients:
                patient.search_text = patient.folded_search_text()
            rows.bulk_update(patients, ["search_text"], batch_size=1000)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        fields = list(fields)  # read twice below: a generator would be spent by the first
        if not SEARCHED_FIELDS.isdisjoint(fields):
            objs = list(objs)
            for patient in objs:
                patient.search_text = patient.folded_search_text()
            fields = [*fields, "search_text"]
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs):
        """As QuerySet.update; a change to an MRN or name refolds the search_text of the rows it changed (the new
        value can be an expression, so they are read back). The rows are taken by key first: the filter can be
        on the very field that changes. A sliced queryset is refused, as by QuerySet.update."""
        if SEARCHED_FIELDS.isdisjoint(kwargs) or self.query.is_sliced:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            # the rows the filter takes, locked (through a subquery: FOR UPDATE cannot go with an annotated
            # filter's GROUP BY) so none changes between being taken and being written
            plain = models.QuerySet(self.model, using=self.db)
            pks = list(plain.filter(pk__in=self.values("pk")).select_for_update().values_list("pk", flat=True))
            rows = plain.filter(pk__in=pks)
            count = rows.update(**kwargs)
            patients = list(rows.only("pk", *SEARCHED_FIELDS))
            for patient in patients:
                patient.search_text = patient.folded_search_text()
            rows.bulk_update(patients, ["search_text"], batch_size=1000)
        return count


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("medical record number", max_length=64)
    family_name = models.CharField(max_length=150)
    given_name = models.CharField(max_length=150, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The MRN and names folded (patients.search), for a search without case or accents; written on every save.
    # Not indexed: a search matches inside it (LIKE '%word%'), which a B-tree cannot serve.
    search_text = models.TextField(editable=False, blank=True, default="")

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "mrn"]
        # compared without case, as patients.services._save checks it: "a-1001" beside "A-1001" would be a
        # second identity for one patient (the database holds it when two requests race)
        constraints = [models.UniqueConstraint("clinic", Lower("mrn"), name="patient_mrn_unique_per_clinic_any_case")]
        # In the list's order within a clinic: a page is read from the index, not sorted from every patient.
        indexes = [models.Index(fields=["clinic", "family_name", "given_name", "mrn"], name="patient_clinic_order")]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    def save(self, *args, **kwargs):
        self.search_text = self.folded_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not SEARCHED_FIELDS.isdisjoint(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    def folded_search_text(self) -> str:
        return search_text(mrn=self.mrn, family_name=self.family_name, given_name=self.given_name)

    def normalise(self) -> None:
        """The MRN in its plain form (NFKC), the names in NFC. Before the length checks: a name can grow under
        NFC (U+0958 is two characters), and one grown past its column had failed at the database."""
        self.mrn = normal_mrn(self.mrn)
        self.family_name = unicodedata.normalize("NFC", self.family_name)
        self.given_name = unicodedata.normalize("NFC", self.given_name)

    def clean_fields(self, exclude=None):
        self.normalise()
        super().clean_fields(exclude=exclude)

    def clean(self):
        super().clean()  # full_clean normalised the fields first (clean_fields)
        # Only what changes is checked: a name stored before this check, a tab in it say, blocks no other
        # change to the patient (as a stored date of birth does not; validate_date_of_birth)
        stored = (
            Patient.objects.filter(pk=self.pk).values("mrn", "family_name", "given_name").first()
            if self.pk is not None
            else None
        ) or {}
        errors = {}
        for name, what in (
            ("mrn", "medical record number"),
            ("family_name", "family name"),
            ("given_name", "given name"),
        ):
            if stored.get(name) == getattr(self, name):
                continue
            try:
                identity_text_check(getattr(self, name), what)
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}" if self.given_name else self.family_name
