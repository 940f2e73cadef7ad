"""Every page route × role × accepted method, generated from the URL resolver.

Anonymous: a redirect to the login page. Another clinic's object: 404. A forbidden role: 403.
A route that is in neither this matrix nor a declared delegation fails
``test_every_route_is_in_the_matrix`` until someone decides who may use it.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from diagnostics import services

from .conftest import client_for
from .helpers import beat_recording

ROLES = ["anonymous", "staff_a", "doctor_a", "admin_a", "staff_b"]
LOGIN = "login"  # expected: a redirect to the login page

# Route name → {method: expected status per role in ROLES order}; the URL's objects belong to clinic A.
MATRIX: dict[str, dict[str, list]] = {
    "dashboard": {"GET": [LOGIN, 200, 200, 200, 200]},
    "patient-list": {"GET": [LOGIN, 200, 200, 200, 200]},
    "patient-create": {"GET": [LOGIN, 200, 200, 200, 200], "POST": [LOGIN, 400, 400, 400, 400]},
    "patient-detail": {"GET": [LOGIN, 200, 200, 200, 404]},
    "patient-edit": {"GET": [LOGIN, 200, 200, 200, 404], "POST": [LOGIN, 400, 400, 400, 404]},
    "patient-compare": {"GET": [LOGIN, 200, 200, 200, 404]},  # with nothing to compare: the page says so
    "recording-upload": {"GET": [LOGIN, 200, 200, 200, 404], "POST": [LOGIN, 400, 400, 400, 404]},
    "recording-detail": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-status": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-beats": {"GET": [LOGIN, 200, 200, 200, 404]},
    "beat-plot": {"GET": [LOGIN, 200, 200, 200, 404]},
    "beat-data": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-signal": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-review": {"GET": [LOGIN, 403, 200, 200, (403, 404)]},
    "recording-report": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-export": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-rhythm": {"GET": [LOGIN, 200, 200, 200, 404]},
    "event-review": {"POST": [LOGIN, 403, 302, 302, (403, 404)]},
    "recording-interpret": {"POST": [LOGIN, 403, 302, 302, (403, 404)]},  # an empty form: back to the page, its reason
    # an empty form: the move form again (the MRN step), or it again saying the confirmation was incomplete
    "recording-move": {"GET": [LOGIN, 403, 200, 200, (403, 404)], "POST": [LOGIN, 403, 400, 400, (403, 404)]},
    # its page from the move this session gave; with none, back to the form
    "recording-move-confirm": {"GET": [LOGIN, 403, 302, 302, (403, 404)], "POST": [LOGIN, 403, 400, 400, (403, 404)]},
    # the patient's diary: every member of the clinic enters (an empty form: back to it, its reason) and removes
    "recording-diary": {"POST": [LOGIN, 302, 302, 302, 404]},
    "recording-diary-remove": {"POST": [LOGIN, 302, 302, 302, 404]},
    # and its activities (sleep, exercise, medication), as its symptoms
    "recording-activity": {"POST": [LOGIN, 302, 302, 302, 404]},
    "recording-activity-remove": {"POST": [LOGIN, 302, 302, 302, 404]},
    # its beat shapes and corrections: every member of the clinic sees them; doctors and administrators correct (an
    # empty form: back to the page, its reason) and undo the latest correction
    "recording-shapes": {"GET": [LOGIN, 200, 200, 200, 404]},
    "recording-beat-correct": {"POST": [LOGIN, 403, 302, 302, 404]},
    "recording-beats-correct": {"POST": [LOGIN, 403, 302, 302, 404]},
    "recording-beat-correction-undo": {"POST": [LOGIN, 403, 302, 302, 404]},
    "review-queue": {"GET": [LOGIN, 403, 200, 200, 403]},
    "review-create": {"POST": [LOGIN, 403, 400, 400, (403, 404)]},  # an empty form: the review page again
    # every signed-in user changes their own password; an empty form is refused
    "password-change": {"GET": [LOGIN, 200, 200, 200, 200], "POST": [LOGIN, 400, 400, 400, 400]},
    "password-change-done": {"GET": [LOGIN, 200, 200, 200, 200]},
    # Without an authenticator the second step sends each role to enrol; enrolling is open to every role.
    "two-factor": {"GET": [LOGIN, 302, 302, 302, 302], "POST": [LOGIN, 302, 302, 302, 302]},
    "two-factor-setup": {"GET": [LOGIN, 200, 200, 200, 200], "POST": [LOGIN, 400, 400, 400, 400]},
}
# Routes anyone may reach, and routes whose permissions are tested elsewhere.
PUBLIC = {"login", "logout", "healthz", "favicon"}
DELEGATED_NAMESPACES = {
    "admin": "tests/mlmodels/test_admin.py and tests/accounts/test_audit.py (the admin's own permission checks)",
    "api": "tests/api/test_permissions.py (its own matrix over every API route)",
}


def all_routes(patterns=None, namespace=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            yield from all_routes(p.url_patterns, f"{namespace}{p.namespace}:" if p.namespace else namespace)
        elif isinstance(p, URLPattern):
            yield f"{namespace}{p.name}" if p.name else f"{namespace}<unnamed {p.pattern}>"


def test_every_route_is_in_the_matrix():
    routes = set(all_routes())
    delegated = {r for r in routes if r.split(":")[0] in DELEGATED_NAMESPACES and ":" in r}
    missing = routes - set(MATRIX) - PUBLIC - delegated
    assert not missing, f"routes with no permission decision: {sorted(missing)}"
    assert not set(MATRIX) - routes, "the matrix lists routes that no longer exist"


@pytest.fixture
def objects(staff_a, patient_a, active_models):
    recording = beat_recording(staff_a, patient_a, beats=3)
    recording.refresh_from_db()
    return {
        "patient_id": patient_a.pk,
        "recording_id": recording.pk,
        "diagnosis_id": recording.diagnosis.pk,
        "index": 0,
    }


@pytest.fixture
def signal_recording_id(staff_a, patient_a):
    """A short continuous signal of clinic A (the signal endpoint serves only those)."""
    import wfdb

    from diagnostics.signal_uploads import parse_signal_upload

    from .data import mitdb_dir

    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600).p_signal[:, 0]
    data = "\n".join(f"{v:.3f}" for v in values).encode()
    parsed, stored, filename = parse_signal_upload({"ecg.csv": data}, fs=360.0, lead=None)
    return services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=filename).pk


@pytest.fixture
def event_id(objects, clinic_a):
    from diagnostics.models import Event

    return Event.objects.create(
        recording_id=objects["recording_id"], clinic=clinic_a, type="pause", start=10, end=900, beats=2, rate_bpm=24.0
    ).pk


@pytest.fixture
def entry_id(objects, clinic_a, staff_a):
    from diagnostics.models import DiaryEntry

    return DiaryEntry.objects.create(  # made directly: the service takes a signal recording's alone
        recording_id=objects["recording_id"], clinic=clinic_a, sample=0, symptom="fatigue", entered_by=staff_a
    ).pk


@pytest.fixture
def activity_id(objects, clinic_a, staff_a):
    from diagnostics.models import DiaryActivity

    return DiaryActivity.objects.create(  # made directly, as a diary entry
        recording_id=objects["recording_id"], clinic=clinic_a, kind="medication", start=0, entered_by=staff_a
    ).pk


@pytest.fixture
def correction_id(objects, doctor_a):
    from diagnostics.corrections import beat_correction_make
    from diagnostics.models import Beat

    beat = Beat.objects.get(recording_id=objects["recording_id"], index=0)
    recording = beat.recording
    to_class = "V" if beat.aami_class != "V" else "N"
    return beat_correction_make(recording=recording, by=doctor_a, to_class=to_class, beats=[0]).pk


# Routes whose objects must be of a particular kind.
OBJECT_FIXTURES = {
    "recording-signal": {"recording_id": "signal_recording_id"},
    "event-review": {"event_id": "event_id"},
    "recording-diary-remove": {"entry_id": "entry_id"},
    "recording-activity-remove": {"activity_id": "activity_id"},
    "recording-beat-correction-undo": {"correction_id": "correction_id"},
}


def url_for(name: str, objects: dict) -> str:
    from django.urls import get_resolver as resolver

    for candidate in resolver().reverse_dict.getlist(name):
        params = candidate[0][0][1]
        return reverse(name, kwargs={k: objects[k] for k in params})
    return reverse(name)


CASES = [(name, method, role) for name, methods in MATRIX.items() for method in methods for role in ROLES]


@pytest.mark.django_db
@pytest.mark.parametrize("name,method,role", CASES, ids=[f"{m} {n} as {r}" for n, m, r in CASES])
def test_each_route_answers_each_role_as_decided(name, method, role, objects, client, request):
    objects = {**objects, **{k: request.getfixturevalue(f) for k, f in OBJECT_FIXTURES.get(name, {}).items()}}
    url = url_for(name, objects)
    if role != "anonymous":
        client_for(client, request.getfixturevalue(role))
    response = client.get(url) if method == "GET" else client.post(url, {})
    expected = MATRIX[name][method][ROLES.index(role)]
    if expected == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), response.status_code
    else:
        allowed = expected if isinstance(expected, tuple) else (expected,)
        assert response.status_code in allowed, (response.status_code, getattr(response, "content", b"")[:300])


# The installation's administrator made by createsuperuser has no clinic: no clinic's record is theirs, whatever the
# route (a 404 where the URL names one), and a page that makes one is refused; the routes naming none, as for anyone.
CLINICLESS = {
    "dashboard": {"GET": 200},
    "patient-list": {"GET": 200},
    "patient-create": {"GET": 403, "POST": 403},  # had shown the form, and answered a valid one with a 500
    "review-queue": {"GET": 200},
    "password-change": {"GET": 200, "POST": 400},
    "password-change-done": {"GET": 200},
    "two-factor": {"GET": 302, "POST": 302},
    "two-factor-setup": {"GET": 200, "POST": 400},
}
CLINICLESS_CASES = [(name, method) for name, methods in MATRIX.items() for method in methods]


@pytest.mark.django_db
@pytest.mark.parametrize("name,method", CLINICLESS_CASES, ids=[f"{m} {n}" for n, m in CLINICLESS_CASES])
def test_a_superuser_without_a_clinic_reaches_no_clinics_records(name, method, objects, client, request):
    from accounts.models import User

    from .factories import UserFactory

    objects = {**objects, **{k: request.getfixturevalue(f) for k, f in OBJECT_FIXTURES.get(name, {}).items()}}
    url = url_for(name, objects)
    root = UserFactory(username="installation", clinic=None, role=User.Role.ADMIN, is_superuser=True)
    client_for(client, root)
    sent = {"mrn": "R-1", "family_name": "Roe", "sex": "female"} if name == "patient-create" else {}
    response = client.get(url) if method == "GET" else client.post(url, sent)
    assert response.status_code == CLINICLESS.get(name, {}).get(method, 404), response.status_code


def _names_an_object(name: str) -> bool:
    from django.urls import get_resolver as resolver

    return any(candidate[0][0][1] for candidate in resolver().reverse_dict.getlist(name))


# A doctor of another clinic: the doctors' routes (reviews, decisions on events, corrections and their undoing,
# signatures, moves) refuse staff_b by role before any lookup, so the matrix's other-clinic column did not reach their
# clinic scoping; a doctor passes the role and must meet the 404 of another clinic's record.
OTHER_DOCTOR_CASES = [(n, m) for n, methods in MATRIX.items() for m in methods if _names_an_object(n)]


@pytest.mark.django_db
@pytest.mark.parametrize("name,method", OTHER_DOCTOR_CASES, ids=[f"{m} {n}" for n, m in OTHER_DOCTOR_CASES])
def test_a_doctor_of_another_clinic_meets_a_404_on_every_route_naming_a_record(
    name, method, objects, client, clinic_b, request
):
    from accounts.models import User

    from .factories import UserFactory

    objects = {**objects, **{k: request.getfixturevalue(f) for k, f in OBJECT_FIXTURES.get(name, {}).items()}}
    url = url_for(name, objects)
    client_for(client, UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR))
    response = client.get(url) if method == "GET" else client.post(url, {})
    assert response.status_code == 404, response.status_code
