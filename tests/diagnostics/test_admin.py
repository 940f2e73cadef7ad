"""The doctors' interpretations in the admin: read only (the rows are append-only), scoped to the clinic as the
other admin pages are, each view in the audit trail."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, User
from diagnostics import services
from diagnostics.models import Interpretation

from ..conftest import client_for
from ..factories import UserFactory, done_recordings

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:diagnostics_interpretation_changelist")


@pytest.fixture
def signed(clinic_a, clinic_b, staff_a, doctor_a, staff_b, active_models) -> dict[str, Interpretation]:
    """Two recordings of clinic A (one interpretation amended) and one of clinic B, each signed."""
    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)
    first, second = done_recordings(2, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    (other,) = done_recordings(1, clinic=clinic_b, staff=staff_b, doctor=doctor_b, models=active_models)
    sign = services.interpretation_sign
    return {
        "a1": sign(user=doctor_a, recording=first, text="Sinus rhythm, first reading."),
        "a1 amended": sign(user=doctor_a, recording=first, text="Sinus rhythm; one PVC.", reason="PVC seen."),
        "a2": sign(user=doctor_a, recording=second, text="Atrial fibrillation."),
        "b": sign(user=doctor_b, recording=other, text="Clinic B's own reading."),
    }


def listed(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def test_a_superuser_lists_every_clinics_interpretations_and_filters_and_searches_them(client, platform_admin, signed):
    client_for(client, platform_admin)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert listed(response) == {i.pk for i in signed.values()}
    assert "Sinus rhythm; one PVC." in response.content.decode()  # the text, shortened, is a column
    a1 = signed["a1"]
    by_recording = client.get(CHANGELIST, {"recording__id__exact": a1.recording_id})
    assert listed(by_recording) == {a1.pk, signed["a1 amended"].pk}
    assert listed(client.get(CHANGELIST, {"clinic__id__exact": signed["b"].clinic_id})) == {signed["b"].pk}
    assert listed(client.get(CHANGELIST, {"q": "fibrillation"})) == {signed["a2"].pk}
    detail = client.get(reverse("admin:diagnostics_interpretation_change", args=[a1.pk]))
    assert detail.status_code == 200 and "Sinus rhythm, first reading." in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()  # shown, not a form to change


def test_a_clinics_administrator_sees_their_clinics_interpretations_only(client, admin_a, signed):
    client_for(client, admin_a)
    response = client.get(CHANGELIST)
    assert response.status_code == 200 and listed(response) == {signed[k].pk for k in ("a1", "a1 amended", "a2")}
    assert "Clinic B" not in response.content.decode()  # nor another clinic among the filters
    other = client.get(reverse("admin:diagnostics_interpretation_change", args=[signed["b"].pk]))
    assert other.status_code == 302 and "Clinic B's own reading" not in other.content.decode()


def test_staff_and_doctors_cannot_reach_it(client, staff_a, doctor_a, signed):
    for user in (staff_a, doctor_a):
        client_for(client, user)
        response = client.get(CHANGELIST)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], user.username
        client.logout()


def test_no_one_adds_changes_or_deletes_an_interpretation_in_the_admin(client, platform_admin, signed):
    client_for(client, platform_admin)
    a1 = signed["a1"]
    assert client.get(reverse("admin:diagnostics_interpretation_add")).status_code == 403
    changed = client.post(
        reverse("admin:diagnostics_interpretation_change", args=[a1.pk]),
        {"text": "Rewritten.", "reason": "", "undecided_at_signing": 0},
    )
    assert changed.status_code == 403
    assert client.get(reverse("admin:diagnostics_interpretation_delete", args=[a1.pk])).status_code == 403
    listing = client.get(CHANGELIST)
    assert "delete_selected" not in listing.content.decode()  # no bulk delete offered
    refused = client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [a1.pk], "post": "yes"})
    assert refused.status_code in (200, 302)  # an action it does not offer: nothing done
    a1.refresh_from_db()
    assert a1.text == "Sinus rhythm, first reading." and Interpretation.objects.count() == len(signed)


def test_each_view_of_interpretations_in_the_admin_is_audited(client, admin_a, signed):
    client_for(client, admin_a)
    client.get(CHANGELIST)
    client.get(reverse("admin:diagnostics_interpretation_change", args=[signed["a2"].pk]))
    rows = AuditEvent.objects.filter(object_type="interpretation", channel="admin").order_by("id")
    assert [(row.action, row.object_id, row.user_id) for row in rows] == [
        (AuditEvent.Action.VIEW, "", admin_a.pk),
        (AuditEvent.Action.VIEW, str(signed["a2"].pk), admin_a.pk),
    ]


MOVES = reverse("admin:diagnostics_recordingmove_changelist")


@pytest.fixture
def moved(clinic_a, clinic_b, staff_a, doctor_a, staff_b, active_models) -> dict:
    """A recording of clinic A and one of clinic B, each moved to another patient of its clinic."""
    from ..factories import PatientFactory

    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)
    (first,) = done_recordings(1, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    (other,) = done_recordings(1, clinic=clinic_b, staff=staff_b, doctor=doctor_b, models=active_models)
    move = services.recording_move
    return {
        "a": move(recording=first, patient=PatientFactory(clinic=clinic_a), by=doctor_a, reason="Wrong patient A."),
        "b": move(recording=other, patient=PatientFactory(clinic=clinic_b), by=doctor_b, reason="Wrong patient B."),
    }


def test_a_clinics_administrator_lists_their_clinics_moves_read_only_and_each_view_is_audited(client, admin_a, moved):
    client_for(client, admin_a)
    response = client.get(MOVES)
    assert response.status_code == 200 and listed(response) == {moved["a"].pk}
    assert "Wrong patient A." in response.content.decode() and "Wrong patient B." not in response.content.decode()
    detail = client.get(reverse("admin:diagnostics_recordingmove_change", args=[moved["a"].pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get(reverse("admin:diagnostics_recordingmove_add")).status_code == 403
    assert client.get(reverse("admin:diagnostics_recordingmove_delete", args=[moved["a"].pk])).status_code == 403
    rows = AuditEvent.objects.filter(object_type="recording_move", channel="admin").order_by("id")
    assert [(row.action, row.object_id) for row in rows] == [("view", ""), ("view", str(moved["a"].pk))]
