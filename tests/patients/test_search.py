"""The patient list's search, without case or accents, on the staff page and in the selector the API shares."""

import importlib
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count
from django.urls import reverse

from patients.models import Patient
from patients.search import fold, search_words
from patients.selectors import patient_list

from ..conftest import client_for
from ..factories import PatientFactory

pytestmark = pytest.mark.django_db


def listed(client, q: str) -> set[str]:
    """The MRNs the staff page lists for the search ``q``."""
    response = client.get(reverse("patient-list"), {"q": q})
    assert response.status_code == 200
    return set(re.findall(r'<td><a href="[^"]+">([^<]+)</a></td>', response.content.decode()))


def found(user, search: str) -> set[str]:
    return {p.mrn for p in patient_list(user=user, search=search)}


def test_an_accented_name_is_found_by_its_plain_spelling(client, staff_a, accented_names):
    client_for(client, staff_a)
    assert listed(client, "Muller") == {"A-MU", "A-MP"}
    assert listed(client, "Francois") == {"A-FR"}
    assert listed(client, "garcia jose") == {"A-JO", "A-JP"}


def test_a_plain_name_is_found_by_its_accented_spelling(client, staff_a, accented_names):
    client_for(client, staff_a)
    assert listed(client, "Müller") == {"A-MU", "A-MP"}
    assert listed(client, "José") == {"A-JO", "A-JP"}


def test_case_is_still_ignored(client, staff_a, accented_names):
    client_for(client, staff_a)
    for q in ("muller", "MÜLLER", "mÜlLeR", "MULLER"):
        assert listed(client, q) == {"A-MU", "A-MP"}, q
    assert listed(client, "a-mu") == {"A-MU"}


def test_every_word_must_match(client, staff_a, accented_names):
    client_for(client, staff_a)
    assert listed(client, "Müller Anna") == {"A-MU"}
    assert listed(client, "Muller, Peter") == {"A-MP"}
    assert listed(client, "Muller José") == set()


def test_another_clinics_patient_is_never_found(client, staff_a, staff_b, accented_names):
    client_for(client, staff_a)
    assert "B-MU" not in listed(client, "muller") and listed(client, "B-MU") == set()
    assert found(staff_b, "Muller Jose") == {"B-MU"} and found(staff_b, "Anna") == set()


def test_an_edited_name_is_found_by_its_new_name_and_not_its_old(client, staff_a, patient_a):
    client_for(client, staff_a)
    response = client.post(
        reverse("patient-edit", args=[patient_a.pk]),
        {"mrn": patient_a.mrn, "family_name": "Ångström", "given_name": "Zoë", "sex": "unknown"},
    )
    assert response.status_code == 302
    assert listed(client, "angstrom zoe") == {"A-0001"}
    assert listed(client, "Meyer") == set() and listed(client, "Anna") == set()


def test_an_mrn_search_works_as_before(client, staff_a, patient_a):
    client_for(client, staff_a)
    assert listed(client, "A-0001") == listed(client, "a-0001") == listed(client, "0001") == {"A-0001"}
    assert listed(client, "Ａ-０００１") == {"A-0001"}  # full width, as the MRN is stored in its plain form
    assert {p.mrn for p in patient_list(user=staff_a, mrn="a-0001")} == {"A-0001"}


def test_a_word_does_not_run_from_the_mrn_into_a_name(staff_a, patient_a):
    assert found(staff_a, "0001meyer") == set() and found(staff_a, "meyeranna") == set()


@pytest.mark.parametrize(
    "text, folded",
    [
        ("Müller", "muller"),
        ("MÜLLER", "muller"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("François", "francois"),
        ("Sørensen", "sorensen"),
        ("Łukasz", "lukasz"),
        ("İbrahim", "ibrahim"),
        ("Ｍüller", "muller"),  # full-width M
        ("Mu\u0308ller", "muller"),  # ü decomposed, as some keyboards send it
    ],
)
def test_a_text_is_folded_without_case_or_accents(text, folded):
    assert fold(text) == folded


def test_a_searchs_words_are_folded_and_split_as_before():
    assert search_words(" Müller,  JOSÉ;x\x00Ｙ ") == ["muller", "jose", "x", "y"]


def test_writes_that_go_past_save_keep_the_search_text(staff_a, clinic_a):
    Patient.objects.bulk_create([Patient(clinic=clinic_a, mrn="A-1", family_name="Jürgens")])
    assert found(staff_a, "jurgens") == {"A-1"}

    patient = Patient.objects.get(mrn="A-1")
    patient.family_name = "Nuñez"
    Patient.objects.bulk_update([patient], ["family_name"])
    assert found(staff_a, "nunez") == {"A-1"} and found(staff_a, "jurgens") == set()

    Patient.objects.filter(family_name="Nuñez").update(family_name="Þórsdóttir")  # the filter is on what changes
    assert found(staff_a, "þorsdottir") == {"A-1"} and found(staff_a, "nunez") == set()

    patient.refresh_from_db()
    patient.given_name = "Émile"
    patient.save(update_fields=["given_name"])
    assert found(staff_a, "emile") == {"A-1"}

    # an upsert rewrites the name of the row it clashes with; fields given as a generator; an annotated filter
    Patient.objects.bulk_create(
        [Patient(pk=patient.pk, clinic=clinic_a, mrn="A-1", family_name="Øberg")],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["family_name"],
    )
    assert found(staff_a, "oberg") == {"A-1"} and found(staff_a, "þorsdottir") == set()
    assert found(staff_a, "emile oberg") == {"A-1"}  # the given name the upsert left alone is still found
    patient.refresh_from_db()
    patient.family_name = "Łukasz"
    Patient.objects.bulk_update([patient], (f for f in ["family_name"]))
    assert found(staff_a, "lukasz") == {"A-1"}
    Patient.objects.annotate(n=Count("recordings")).filter(n=0, mrn="A-1").update(family_name="Ærø")
    assert found(staff_a, "aero") == {"A-1"}
    with pytest.raises(TypeError, match="slice"):
        Patient.objects.all()[:1].update(family_name="Sliced")  # refused, as QuerySet.update refuses it


def test_the_migration_fills_the_patients_stored_before_it(staff_a, clinic_a, clinic_b):
    migration = importlib.import_module("patients.migrations.0006_patient_search_text")
    PatientFactory(clinic=clinic_a, mrn="A-MU", family_name="Müller", given_name="José")
    PatientFactory(clinic=clinic_b, mrn="B-FR", family_name="Dubois", given_name="François")
    Patient.objects.update(search_text="")  # as every patient was before the field
    assert found(staff_a, "muller") == set()
    # the model as it stood at the migration, as migrate runs it
    at_migration = MigrationExecutor(connection).loader.project_state(("patients", "0006_patient_search_text")).apps
    migration.fill(at_migration, None)
    assert dict(Patient.objects.values_list("mrn", "search_text")) == {
        "A-MU": "a-mu\nmuller\njose",
        "B-FR": "b-fr\ndubois\nfrancois",
    }
    assert found(staff_a, "Muller Jose") == {"A-MU"}
