"""A doctor's signed interpretation of a recording: the rule (services.interpretation_sign), the recording's page,
the printed report and the doctors' worklist on the dashboard."""

import html
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from diagnostics import selectors, services
from diagnostics.models import ECGRecording, Event, Interpretation
from ecgsite.errors import Conflict, Invalid, NotAllowed

from ..conftest import client_for
from ..factories import PatientFactory, UserFactory, done_recordings
from ..helpers import beat_recording

pytestmark = pytest.mark.django_db
FINDINGS = "Sinus rhythm, 72 /min.\nNo ischaemic changes."
NOT_INTERPRETED = "Not yet interpreted: the figures on this page are the automatic analysis, not read by a doctor."


@pytest.fixture
def recording(staff_a, patient_a, active_models) -> ECGRecording:
    """A beat file of patient_a, analysed."""
    return beat_recording(staff_a, patient_a)


@pytest.fixture
def doctor_b(clinic_b):
    return UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)


def page_of(client, recording) -> str:
    response = client.get(reverse("recording-detail", args=[recording.pk]))
    assert response.status_code == 200
    return response.content.decode()


def sign(client, recording, text: str):
    return client.post(reverse("recording-interpret", args=[recording.pk]), {"text": text})


# --- the rule -------------------------------------------------------------------------------------------------------


def test_a_doctor_signs_and_an_amendment_keeps_the_earlier_version(doctor_a, admin_a, recording):
    first = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    second = services.interpretation_sign(user=admin_a, recording=recording, text=FINDINGS + " Occasional PVCs.")
    assert (first.amends, second.amends) == (None, first)
    assert (first.author, second.author, second.clinic_id) == (doctor_a, admin_a, recording.clinic_id)
    assert list(selectors.interpretation_list(recording=recording)) == [second, first]
    assert selectors.interpretation_current(recording=recording) == second
    assert Interpretation.objects.get(pk=first.pk).text == FINDINGS  # kept as signed


def test_the_text_is_stored_with_line_feeds_and_stripped(doctor_a, recording):
    typed = "  \r\nSinus rhythm.\r\nPR 160 ms.\rQRS 90 ms.\u2028QT normal.\t\n\n "
    signed = services.interpretation_sign(user=doctor_a, recording=recording, text=typed)
    assert signed.text == "Sinus rhythm.\nPR 160 ms.\nQRS 90 ms.\nQT normal."


@pytest.mark.parametrize(
    "text,words",
    [
        (" \r\n\t ", "blank"),
        ("x" * 4001, "4,001 characters long; at most 4,000"),
        ("Sinus rhythm.\nPR\x07 160 ms.", "control character (U+0007) at line 2, column 3"),
        ("Sinus\x00rhythm", "control character (U+0000)"),
        ("Sinus\x1brhythm", "control character (U+001B)"),
    ],
)
def test_a_blank_too_long_or_control_character_text_is_refused(doctor_a, recording, text, words):
    with pytest.raises(Invalid) as refused:
        services.interpretation_sign(user=doctor_a, recording=recording, text=text)
    assert words in refused.value.message and refused.value.field == "text"
    assert not Interpretation.objects.exists()


def test_the_length_is_counted_once_line_breaks_are_line_feeds(doctor_a, recording):
    # a browser's textarea counts a line break once and sends it as two characters
    typed = "\r\n".join(["x" * 99] * 40)  # 3,999 characters as signed, 4,077 as sent
    assert len(services.interpretation_sign(user=doctor_a, recording=recording, text=typed).text) == 3999


def test_tabs_are_allowed(doctor_a, recording):
    assert services.interpretation_sign(user=doctor_a, recording=recording, text="PR\t160 ms").text == "PR\t160 ms"


def test_an_unchanged_amendment_is_refused(doctor_a, recording):
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    with pytest.raises(Invalid) as refused:
        services.interpretation_sign(user=doctor_a, recording=recording, text=f"  {FINDINGS}\r\n")
    assert refused.value.code == "unchanged" and "unchanged" in refused.value.message
    assert Interpretation.objects.count() == 1


def test_staff_and_another_clinics_doctor_may_not_sign(staff_a, doctor_b, recording):
    for user in (staff_a, doctor_b):
        with pytest.raises(NotAllowed):
            services.interpretation_sign(user=user, recording=recording, text=FINDINGS)
    assert not Interpretation.objects.exists()


@pytest.mark.parametrize(
    "status,code", [("queued", "not_ready"), ("processing", "not_ready"), ("failed", "recording_failed")]
)
def test_only_a_finished_analysis_is_interpreted(doctor_a, staff_a, patient_a, status, code):
    recording = beat_recording(staff_a, patient_a, classify=False)
    ECGRecording.objects.filter(pk=recording.pk).update(status=status)
    with pytest.raises(Conflict) as refused:
        services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    assert refused.value.code == code and not Interpretation.objects.exists()


def test_an_interpretation_is_never_changed_or_deleted(doctor_a, recording):
    signed = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    with pytest.raises(PermissionError):
        signed.save()
    with pytest.raises(PermissionError):
        signed.delete()
    for change in (lambda rows: rows.update(text="rewritten"), lambda rows: rows.delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():  # the database refuses it too
            change(Interpretation.objects.filter(pk=signed.pk))
    assert Interpretation.objects.get(pk=signed.pk).text == FINDINGS


def test_a_recording_has_one_first_version_and_each_version_one_amendment(doctor_a, recording):
    first = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    services.interpretation_sign(user=doctor_a, recording=recording, text="Amended.")
    for amends in (None, first):  # what two doctors signing at once without the lock would have written
        with pytest.raises(IntegrityError), transaction.atomic():
            Interpretation.objects.create(
                recording=recording, clinic_id=recording.clinic_id, author=doctor_a, text="Other.", amends=amends
            )


# --- the recording's page -----------------------------------------------------------------------------------------


def test_a_doctor_sees_the_form_and_that_nothing_is_interpreted_yet(client, doctor_a, recording):
    page = page_of(client_for(client, doctor_a), recording)
    assert 'id="interpretation"' in page and '<a href="#interpretation">Interpretation</a>' in page
    assert NOT_INTERPRETED in page
    action = reverse("recording-interpret", args=[recording.pk])
    form = page[page.index(f'action="{action}"') :]
    form = form[: form.index("</form>")]
    assert 'name="csrfmiddlewaretoken"' in form and 'maxlength="4000"' in form
    assert '<label for="id_text">Your interpretation' in form and 'id="id_text"' in form
    assert ">Sign interpretation</button>" in form


def test_a_doctor_signs_and_the_page_shows_it_with_who_and_when(client, doctor_a, recording, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    doctor_a.first_name, doctor_a.last_name = "Dana", "Doctor"
    doctor_a.save()
    client_for(client, doctor_a)
    response = sign(client, recording, "Sinus rhythm.\r\n<b>No</b> ST changes.")
    assert response.status_code == 302
    assert response["Location"] == reverse("recording-detail", args=[recording.pk]) + "#interpretation"
    signed = Interpretation.objects.get()
    assert (signed.author, signed.text) == (doctor_a, "Sinus rhythm.\n<b>No</b> ST changes.")
    page = page_of(client, recording)
    assert "Sinus rhythm.<br>&lt;b&gt;No&lt;/b&gt; ST changes." in page  # escaped, its line break kept
    local = signed.created_at.astimezone(ZoneInfo("Europe/Berlin"))  # in TIME_ZONE, with its abbreviation
    assert f'Signed by <strong>Dana Doctor</strong> on <time datetime="{local.isoformat()}">' in page
    assert f">{local:%Y-%m-%d %H:%M} {local.tzname()}</time>" in page
    section = page[page.index('id="interpretation"') :]
    assert section.index("Interpretation signed.") < section.index("</section>")  # beside it, not at the top
    assert NOT_INTERPRETED not in page and ">Sign amended interpretation</button>" in page
    audited = AuditEvent.objects.get(action=AuditEvent.Action.REVIEW)
    assert (audited.object_type, audited.object_id, audited.user) == ("recording", str(recording.pk), doctor_a)


def test_staff_see_the_interpretation_but_no_form_and_may_not_post_one(client, staff_a, doctor_a, recording):
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    client_for(client, staff_a)
    page = page_of(client, recording)
    assert "Sinus rhythm, 72 /min.<br>No ischaemic changes." in page and "Signed by" in page
    assert reverse("recording-interpret", args=[recording.pk]) not in page and "Sign interpretation" not in page
    assert sign(client, recording, "Staff's view.").status_code == 403
    assert Interpretation.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DENIED, status_code=403).exists()


def test_another_clinics_doctor_gets_404(client, doctor_b, recording):
    assert sign(client_for(client, doctor_b), recording, FINDINGS).status_code == 404
    assert not Interpretation.objects.exists()


def test_a_recording_not_analysed_yet_is_refused_with_the_reason(client, doctor_a, staff_a, patient_a):
    recording = beat_recording(staff_a, patient_a, classify=False)
    response = sign(client_for(client, doctor_a), recording, FINDINGS)
    assert response.status_code == 409
    assert "The recording is queued: it can be interpreted once its analysis is done." in response.content.decode()
    assert not Interpretation.objects.exists()


def test_a_refusal_keeps_the_text_as_typed_with_the_reason_beside_it(client, doctor_a, recording):
    typed = "Sinus rhythm <i>today</i>.\x07"
    response = sign(client_for(client, doctor_a), recording, typed)
    assert response.status_code == 400
    page = response.content.decode()
    textarea = page[page.index("<textarea") : page.index("</textarea>")]
    assert html.escape("Sinus rhythm <i>today</i>.", quote=False) in textarea
    assert 'aria-describedby="interpretation-error"' in textarea and 'aria-invalid="true"' in textarea
    error = page[page.index('id="interpretation-error"') :]
    assert error.index("control character (U+0007)") < error.index("<textarea")  # beside the field
    assert not Interpretation.objects.exists()


def test_an_unchanged_amendment_is_refused_on_the_page(client, doctor_a, recording):
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    response = sign(client_for(client, doctor_a), recording, FINDINGS.replace("\n", "\r\n"))
    assert response.status_code == 400
    assert "unchanged from the current interpretation" in response.content.decode()
    assert Interpretation.objects.count() == 1


def test_an_amendment_shows_what_it_amends_and_the_earlier_version(client, doctor_a, admin_a, recording):
    first = services.interpretation_sign(user=doctor_a, recording=recording, text="Sinus rhythm.")
    services.interpretation_sign(user=admin_a, recording=recording, text="Sinus rhythm with first-degree AV block.")
    page = page_of(client_for(client, doctor_a), recording)
    assert f'amends the version of <time datetime="{timezone.localtime(first.created_at).isoformat()}">' in page
    details = page[page.index('<details class="interpretation-history">') : page.index("</details>")]
    assert "Earlier version (1)" in details and "Sinus rhythm." in details and "doctor_a" in details
    textarea = page[page.index("<textarea") : page.index("</textarea>")]
    assert "Sinus rhythm with first-degree AV block." in textarea  # the current text, to amend
    assert "Amended interpretation" in page and ">Sign amended interpretation</button>" in page


def test_the_form_warns_of_vf_and_asystole_episodes_no_doctor_decided_on(client, doctor_a, recording):
    for start, kind in ((100, "vf"), (5000, "asystole"), (9000, "pause")):
        Event.objects.create(
            recording=recording, clinic=recording.clinic, type=kind, start=start, end=start + 90, beats=0
        )
    client_for(client, doctor_a)
    assert "2 VF/VFL or asystole episodes await a doctor's decision" in page_of(client, recording)
    for event in Event.objects.filter(type="vf"):
        services.event_review_create(user=doctor_a, event=event, decision="confirm")
    page = page_of(client, recording)
    assert "1 VF/VFL or asystole episode awaits a doctor's decision" in page
    services.event_review_create(user=doctor_a, event=Event.objects.get(type="asystole"), decision="confirm")
    assert "a doctor's decision: <a" not in page_of(client, recording)


# --- the printed report -----------------------------------------------------------------------------------------


def test_the_report_says_it_is_preliminary_until_signed_then_carries_the_signature(client, doctor_a, recording):
    client_for(client, doctor_a)
    url = reverse("recording-report", args=[recording.pk])
    report = client.get(url).content.decode()
    assert "Preliminary: automatic analysis, not yet interpreted by a doctor." in report
    signed = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    report = client.get(url).content.decode()
    assert "Preliminary" not in report
    assert "Sinus rhythm, 72 /min.<br>No ischaemic changes." in report
    when = timezone.localtime(signed.created_at).strftime("%Y-%m-%d %H:%M")
    assert "Electronically signed by <strong>doctor_a</strong> on <time" in report and when in report
    # near the top: before the ECG strip and the class counts
    assert report.index("<h2>Interpretation</h2>") < report.index("<h2>ECG</h2>")


# --- the doctors' worklist --------------------------------------------------------------------------------------------


def _signal_recordings(n, *, clinic, staff, doctor, models):
    recordings = done_recordings(n, clinic=clinic, staff=staff, doctor=doctor, models=models)
    ECGRecording.objects.filter(pk__in=[r.pk for r in recordings]).update(kind="signal")
    return recordings


def _worklist_queries(client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("dashboard")).content.decode()
    return page, sum("diagnostics_interpretation" in q["sql"] for q in queries.captured_queries)


def test_the_dashboard_lists_a_doctors_recordings_awaiting_interpretation(
    client, clinic_a, clinic_b, staff_a, staff_b, doctor_a, active_models
):
    client_for(client, doctor_a)
    waiting = _signal_recordings(3, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    page, queries = _worklist_queries(client)
    assert queries == 1
    card = page[page.index('id="awaiting-interpretation"') :]
    card = card[: card.index("</div>")]
    links = [f"{reverse('recording-detail', args=[r.pk])}#interpretation" for r in reversed(waiting)]
    assert [card.index(f'href="{link}"') for link in links] == sorted(card.index(f'href="{link}"') for link in links)
    assert "more." not in card

    more = _signal_recordings(22, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    services.interpretation_sign(user=doctor_a, recording=more[-1], text=FINDINGS)  # interpreted: off the list
    done_recordings(2, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)  # beat files
    _signal_recordings(2, clinic=clinic_b, staff=staff_b, doctor=doctor_a, models=active_models)  # another clinic's
    queued = beat_recording(staff_a, PatientFactory(clinic=clinic_a), classify=False)
    ECGRecording.objects.filter(pk=queued.pk).update(kind="signal")
    page, queries = _worklist_queries(client)
    assert queries == 1  # the rows and how many in all, in one query, whatever the number of rows
    card = page[page.index('id="awaiting-interpretation"') :]
    card = card[: card.index("</div>")]
    assert card.count("#interpretation") == 20 and "and 4 more." in card  # 24 waiting
    assert f"{reverse('recording-detail', args=[more[-2].pk])}#interpretation" in card  # the newest first
    assert f"{reverse('recording-detail', args=[more[-1].pk])}#" not in card
    assert "<strong>24</strong> awaiting interpretation" in page


def test_staff_have_no_interpretation_worklist(client, clinic_a, staff_a, doctor_a, active_models):
    _signal_recordings(2, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    page, queries = _worklist_queries(client_for(client, staff_a))
    assert 'id="awaiting-interpretation"' not in page and "awaiting interpretation" not in page and queries == 0
