"""GET /api/v1/patients?search= without case or accents, as the staff page searches."""

import pytest

pytestmark = pytest.mark.django_db
URL = "/api/v1/patients"


@pytest.fixture
def api(api_as, staff_a):
    return api_as(staff_a)


def searched(api, search: str) -> set[str]:
    response = api.get(URL, {"search": search})
    assert response.status_code == 200, response.content
    return {p["mrn"] for p in response.json()["results"]}


def test_an_accented_name_is_found_by_its_plain_spelling(api, accented_names):
    assert searched(api, "Muller") == {"A-MU", "A-MP"}
    assert searched(api, "Jose") == {"A-JO", "A-JP"}
    assert searched(api, "Francois") == {"A-FR"}


def test_a_plain_name_is_found_by_its_accented_spelling(api, accented_names):
    assert searched(api, "Müller") == {"A-MU", "A-MP"}
    assert searched(api, "Pétér") == {"A-MP"}


def test_case_is_still_ignored(api, accented_names):
    for search in ("muller", "MÜLLER", "MULLER", "mÜller"):
        assert searched(api, search) == {"A-MU", "A-MP"}, search
    assert searched(api, "a-jo") == {"A-JO"}


def test_every_word_must_match(api, accented_names):
    assert searched(api, "muller anna") == {"A-MU"}
    assert searched(api, "Müller, Peter") == {"A-MP"}
    assert searched(api, "muller jose") == set()


def test_another_clinics_patient_is_never_found(api, api_as, staff_b, accented_names):
    assert searched(api, "B-MU") == set() and "B-MU" not in searched(api, "müller")
    assert searched(api_as(staff_b), "muller") == {"B-MU"}


def test_a_name_changed_by_put_is_found_by_its_new_name_and_not_its_old(api, patient_a):
    body = {"mrn": "A-0001", "family_name": "Ångström", "given_name": "Zoë"}
    assert api.put(f"{URL}/{patient_a.pk}", body, format="json").status_code == 200
    assert searched(api, "angstrom ZOE") == {"A-0001"}
    assert searched(api, "meyer") == set() and searched(api, "anna") == set()


def test_a_name_changed_by_patch_is_found_by_its_new_name_and_not_its_old(api, patient_a):
    assert api.patch(f"{URL}/{patient_a.pk}", {"given_name": "Chloé"}, format="json").status_code == 200
    assert searched(api, "meyer chloe") == {"A-0001"} and searched(api, "anna") == set()


def test_a_created_patient_is_found_without_accents(api):
    assert api.post(URL, {"mrn": "A-9", "family_name": "Šimůnek"}, format="json").status_code == 201
    assert searched(api, "simunek") == {"A-9"}


def test_an_mrn_search_works_as_before(api, patient_a):
    assert searched(api, "a-0001") == searched(api, "0001") == {"A-0001"}
    assert [p["mrn"] for p in api.get(URL, {"mrn": "a-0001"}).json()["results"]] == ["A-0001"]


@pytest.mark.parametrize("search", [",", " , ", ";", "\u0301"])
def test_a_search_of_separators_alone_is_refused_as_empty_not_answered_with_every_patient(api, accented_names, search):
    # an integration searching f"{family}, {given}" with both unset sent ", ": no word to find, and every patient of
    # the clinic came back, the first of them taken for its own (as ?aami_class=,, is refused)
    response = api.get(URL, {"search": search})
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "search" and "empty" in error["message"]
