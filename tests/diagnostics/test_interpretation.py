"""A doctor's signed interpretation of a recording: the rule (services.interpretation_sign), the recording's page,
the printed report and the doctors' worklist on the dashboard."""

import html
import re
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
from ..helpers import beat_recording, reviews_rewritable
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

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


def sign(client, recording, text: str, **more):
    return client.post(reverse("recording-interpret", args=[recording.pk]), {"text": text, **more})


def at_interpretation(recording) -> str:
    return reverse("recording-detail", args=[recording.pk]) + "#interpretation"


def textarea_of(page: str) -> str:
    return page[page.index("<textarea") : page.index("</textarea>")]


def amend_box(page: str) -> str:
    """The folded amendment form: from its <details> to its end."""
    start = page.index('<details class="interpretation-amend"')
    return page[start : page.index("</details>", start)]


# --- the rule -------------------------------------------------------------------------------------------------------


def test_a_doctor_signs_and_an_amendment_keeps_the_earlier_version(doctor_a, admin_a, recording):
    first = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    second = services.interpretation_sign(
        user=admin_a, recording=recording, text=FINDINGS + " Occasional PVCs.", reason="PVCs seen on review."
    )
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
        (
            "Sinus rhythm.\nPR\u202e 160 ms.",
            "invisible direction character (U+202E RIGHT-TO-LEFT OVERRIDE) at line 2, column 3",
        ),
        ("QT \u2066480\u2069 ms", "invisible direction character (U+2066 LEFT-TO-RIGHT ISOLATE)"),
        ("Rate \u061c60 bpm", "invisible direction character (U+061C ARABIC LETTER MARK)"),
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


def test_it_is_not_signed_while_the_rhythm_is_recomputed_after_a_beat_correction(doctor_a, recording):
    from diagnostics.models import Diagnosis

    outdated = Diagnosis.objects.filter(recording=recording)
    outdated.update(rhythm_outdated_at=timezone.now())
    with pytest.raises(Conflict) as refused:
        services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    assert refused.value.code == "rhythm_recomputing" and not Interpretation.objects.exists()
    # a recomputation that failed will not come: the doctor signs over the figures as they stand (the report says so)
    outdated.update(rhythm_recompute_error="The signal could not be read again.")
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)


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
    services.interpretation_sign(user=doctor_a, recording=recording, text="Amended.", reason="Corrected.")
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
    assert 'name="csrfmiddlewaretoken"' in form
    # no maxlength (it cut a longer paste mid-word, silently): a script counts, the server refuses and says why
    assert "maxlength" not in textarea_of(form) and 'data-char-limit="4000"' in textarea_of(form)
    assert 'data-char-count="interpretation-count"' in textarea_of(form)
    assert '<p class="char-count muted small" id="interpretation-count" data-char-count hidden>' in form
    # this doctor's draft over no signed version: another doctor at this browser, or a colleague's version signed
    # since, does not get it restored
    assert f'data-draft-key="interpretation-draft:{recording.pk}:{doctor_a.pk}:0"' in textarea_of(form)
    assert "data-draft-server" not in form and "autofocus" not in form and "aria-invalid" not in form
    assert '<label for="id_text">Your interpretation' in form and 'id="id_text"' in form
    assert ">Sign interpretation</button>" in form
    assert '<button type="submit" name="then" value="next" class="secondary">Sign and open next</button>' in form
    assert "interpretation-amend" not in page  # nothing signed: nothing to amend, the form is open


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
    assert NOT_INTERPRETED not in page and ">Sign amended interpretation</button>" in amend_box(page)
    # the amendment is folded away (closed), so the signed text is not amended by accident
    assert '<details class="interpretation-amend" data-interpretation-amend>' in page
    assert "<summary>Amend the interpretation</summary>" in amend_box(page) and "Sign and open next" not in page
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
    # post/redirect/get: the recording's page says why (it had been rendered at the form's URL, with 409)
    assert response.status_code == 302 and response["Location"] == at_interpretation(recording)
    reason = "The recording is queued: it can be interpreted once its analysis is done."
    page = page_of(client, recording)
    assert f'<p class="error" id="interpretation-error" role="alert">{reason}</p>' in page
    assert reason not in page_of(client, recording)  # said once
    assert not Interpretation.objects.exists()


def test_a_refusal_takes_the_doctor_back_to_the_text_as_typed_with_the_reason_beside_it(client, doctor_a, recording):
    typed = "Sinus rhythm <i>today</i>.\x07"
    response = sign(client_for(client, doctor_a), recording, typed)
    # to the recording's own page (rendered at the form's URL, its relative links and a reload answered 405)
    assert response.status_code == 302 and response["Location"] == at_interpretation(recording)
    page = page_of(client, recording)
    textarea = textarea_of(page)
    assert html.escape("Sinus rhythm <i>today</i>.", quote=False) in textarea
    assert 'aria-describedby="interpretation-error"' in textarea and 'aria-invalid="true"' in textarea
    assert " autofocus" in textarea and "data-draft-server" in textarea  # the focus on it, no draft over it
    error = page[page.index('id="interpretation-error"') :]
    assert error.index("control character (U+0007)") < error.index("<textarea")  # beside the field
    assert not Interpretation.objects.exists()
    # shown once: a reload (or a link followed on the page) shows the form as it was
    again = page_of(client, recording)
    assert "control character" not in again and "autofocus" not in again and "Sinus rhythm" not in textarea_of(again)


def test_a_refused_text_is_kept_per_recording(client, doctor_a, staff_a, patient_a, recording):
    other = beat_recording(staff_a, patient_a)
    client_for(client, doctor_a)
    sign(client, recording, "   ")
    assert "the text is blank" not in page_of(client, other)  # another recording's page: nothing of it
    assert "Write the interpretation: the text is blank." in page_of(client, recording)


def test_a_nul_character_refused_by_the_form_itself_is_shown_the_same_way(client, doctor_a, recording):
    assert sign(client_for(client, doctor_a), recording, "Sinus\x00rhythm")["Location"] == at_interpretation(recording)
    page = page_of(client, recording)
    assert '<p class="error" id="interpretation-error" role="alert">Null characters are not allowed.</p>' in page
    assert 'aria-invalid="true"' in textarea_of(page) and not Interpretation.objects.exists()


def test_a_text_too_long_is_refused_whole_with_its_length(client, doctor_a, recording):
    pasted = ("Sinus rhythm with occasional ventricular ectopics. " * 100)[:4840]
    assert sign(client_for(client, doctor_a), recording, pasted).status_code == 302
    page = page_of(client, recording)
    assert "The interpretation is 4,840 characters long; at most 4,000 are allowed." in page
    assert pasted.rstrip() in textarea_of(page)  # all of it, not cut at 4,000 mid-word
    assert not Interpretation.objects.exists()


def test_an_unchanged_amendment_is_refused_on_the_page(client, doctor_a, recording):
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    response = sign(client_for(client, doctor_a), recording, FINDINGS.replace("\n", "\r\n"))
    assert response.status_code == 302 and response["Location"] == at_interpretation(recording)
    page = page_of(client, recording)
    assert "unchanged from the current interpretation" in amend_box(page)
    # the folded amendment is open: it holds the error and the text
    assert '<details class="interpretation-amend" data-interpretation-amend open>' in page
    assert Interpretation.objects.count() == 1


def test_an_amendment_shows_what_it_amends_and_the_earlier_version(client, doctor_a, admin_a, recording):
    first = services.interpretation_sign(user=doctor_a, recording=recording, text="Sinus rhythm.")
    services.interpretation_sign(
        user=admin_a,
        recording=recording,
        text="Sinus rhythm with first-degree AV block.",
        reason="PR interval measured.",
    )
    page = page_of(client_for(client, doctor_a), recording)
    signed_first = f'<time datetime="{timezone.localtime(first.created_at).isoformat()}">'
    assert f"; amends the version signed by doctor_a on {signed_first}" in page
    details = page[page.index('<details class="interpretation-history">') : page.index("</details>")]
    assert "Earlier version (1)" in details and "Sinus rhythm." in details and "doctor_a" in details
    assert "Sinus rhythm with first-degree AV block." in textarea_of(page)  # the current text, to amend
    assert "Amended interpretation" in amend_box(page) and ">Sign amended interpretation</button>" in amend_box(page)


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
    # said once beside the title (it had read "Interpretation: Preliminary: …"), and on every printed page
    assert (
        '<p class="report-preliminary" id="interpretation">Preliminary: automatic analysis, not yet interpreted'
        in report
    )
    assert "Interpretation:" not in report
    running = report[report.index('<p class="print-running"') : report.index("</p>", report.index("print-running"))]
    assert "<strong>PRELIMINARY – not interpreted by a doctor</strong> · " in running and "· MRN " in running
    signed = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    report = client.get(url).content.decode()
    assert "Preliminary" not in report and "PRELIMINARY" not in report
    assert "Sinus rhythm, 72 /min.<br>No ischaemic changes." in report
    when = timezone.localtime(signed.created_at).strftime("%Y-%m-%d %H:%M")
    assert "Electronically signed by <strong>doctor_a</strong> on <time" in report and when in report
    # near the top: before the ECG strip and the class counts
    assert report.index("<h2>Interpretation</h2>") < report.index("<h2>Beats as given to the model</h2>")  # (beats)
    assert "amends" not in report


def test_an_amended_report_names_the_version_it_amends_and_who_signed_it(client, doctor_a, admin_a, recording):
    admin_a.first_name, admin_a.last_name = "Ada", "Admin"
    admin_a.save()
    first = services.interpretation_sign(user=admin_a, recording=recording, text=FINDINGS)
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS + " PVCs.", reason="PVCs.")
    report = client_for(client, doctor_a).get(reverse("recording-report", args=[recording.pk])).content.decode()
    signature = report[report.index('<p class="signature">') : report.index("</p>", report.index('class="signature"'))]
    when = timezone.localtime(first.created_at)
    assert "Electronically signed by <strong>doctor_a</strong>" in signature and "(amended)" not in signature
    assert f'; amends the version signed by Ada Admin on <time datetime="{when.isoformat()}">' in signature
    assert f">{when:%Y-%m-%d %H:%M} {when.tzname()}</time>" in signature


# --- the doctors' worklist --------------------------------------------------------------------------------------------


def _signal_recordings(n, *, clinic, staff, doctor, models):
    recordings = done_recordings(n, clinic=clinic, staff=staff, doctor=doctor, models=models)
    ECGRecording.objects.filter(pk__in=[r.pk for r in recordings]).update(kind="signal")
    return recordings


def _worklist_queries(client, **params) -> tuple[str, int]:
    """The dashboard, and how many queries read the worklist (its rows, and how many there are in all: those that
    leave out the recordings a doctor interpreted)."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("dashboard"), params).content.decode()
    awaiting = re.compile(r'NOT \(?EXISTS\(SELECT 1 AS "a" FROM "diagnostics_interpretation"')
    return page, sum(bool(awaiting.search(q["sql"])) for q in queries.captured_queries)


def _card(page: str) -> str:
    card = page[page.index('id="awaiting-interpretation"') :]
    return card[: card.index("</div>")]


def _order(card: str, recordings) -> list[int]:
    return [card.index(f'href="{at_interpretation(r)}"') for r in recordings]


def test_the_dashboard_lists_every_recording_awaiting_interpretation_oldest_first(
    client, clinic_a, clinic_b, staff_a, staff_b, doctor_a, active_models
):
    client_for(client, doctor_a)
    signals = _signal_recordings(3, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    beat_files = done_recordings(2, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    interpreted = _signal_recordings(1, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)[0]
    services.interpretation_sign(user=doctor_a, recording=interpreted, text=FINDINGS)
    _signal_recordings(2, clinic=clinic_b, staff=staff_b, doctor=doctor_a, models=active_models)  # another clinic's
    queued = beat_recording(staff_a, PatientFactory(clinic=clinic_a), classify=False)
    twelve = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    ECGRecording.objects.filter(pk=signals[0].pk).update(leads=twelve, sampling_rate=500, sample_count=5000)
    ECGRecording.objects.filter(pk=signals[1].pk).update(leads=["MLII", "V5"], sampling_rate=360, sample_count=650000)
    # the flags: an MI flag no doctor reviewed, and VF/asystole episodes no doctor decided on (one decided)
    with reviews_rewritable():
        signals[1].diagnosis.reviews.all().delete()
    for start, kind in ((100, "vf"), (900, "asystole"), (5000, "vf"), (9000, "pause")):
        Event.objects.create(recording=signals[2], clinic=clinic_a, type=kind, start=start, end=start + 90, beats=0)
    services.event_review_create(user=doctor_a, event=Event.objects.get(start=5000), decision="confirm")

    page, queries = _worklist_queries(client)
    assert queries == 2  # the rows with their flags, and how many in all (from an index: diagnostics/0031)
    card = _card(page)
    waiting = [*signals, *beat_files]  # beat files too: their reports say "Preliminary"
    assert _order(card, waiting) == sorted(_order(card, waiting))  # oldest first: the order they are due in
    for absent in (interpreted, queued):
        assert reverse("recording-detail", args=[absent.pk]) not in card
    # no pager ("and N more ›"): a patient's made-up name may hold "more" (Gilmore)
    assert (
        "<strong>5</strong> awaiting interpretation" in page and " more ›" not in card and "Recordings 1–" not in card
    )
    rows = {r.pk: card[card.index(f'href="{at_interpretation(r)}"') :].split("</tr>")[0] for r in waiting}
    assert "<td>12-lead, 0:00:10</td>" in rows[signals[0].pk]
    assert "<td>Holter, 0:30:05</td>" in rows[signals[1].pk]
    assert '<span class="flag" data-worklist-flag="mi">MI flag not reviewed</span>' in rows[signals[1].pk]
    assert '<span class="flag" data-worklist-flag="vf">2 VF/VFL or asystole undecided</span>' in rows[signals[2].pk]
    assert "data-worklist-flag" not in rows[signals[0].pk] and "<td>—</td>" in rows[signals[0].pk]
    assert "<td>beat file, 6 beats</td>" in rows[beat_files[0].pk]


def test_the_worklist_pages_on_and_costs_the_same_queries_on_every_page(
    client, clinic_a, staff_a, doctor_a, active_models
):
    client_for(client, doctor_a)
    waiting = _signal_recordings(25, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    beat_recording(staff_a, PatientFactory(clinic=clinic_a), classify=False)  # pending: the dashboard polls
    with CaptureQueriesContext(connection) as first_page:
        page = client.get(reverse("dashboard")).content.decode()
    card = _card(page)
    assert card.count("#interpretation") == 20 and "Recordings 1–20 of 25." in card
    assert '<a href="?interpret_page=2#awaiting-interpretation">and 5 more ›</a>' in card
    assert f'href="{at_interpretation(waiting[19])}"' in card and at_interpretation(waiting[20]) not in card
    assert f'hx-get="{reverse("dashboard")}"' in page
    with CaptureQueriesContext(connection) as second_page:
        page = client.get(reverse("dashboard"), {"interpret_page": "2"}).content.decode()
    card = _card(page)
    assert card.count("#interpretation") == 5 and "Recordings 21–25 of 25." in card
    assert [card.index(at_interpretation(r)) for r in waiting[20:]] == sorted(
        card.index(at_interpretation(r)) for r in waiting[20:]
    )
    assert '<a href="?interpret_page=1#awaiting-interpretation">‹ Previous page</a>' in card and " more ›" not in card
    assert f'hx-get="{reverse("dashboard")}?interpret_page=2"' in page  # its poll keeps the page
    assert len(second_page.captured_queries) == len(first_page.captured_queries)
    for asked in ("9", "0", "x", "-1", "99999999999"):  # past the end, or no page: the first page
        card = _card(client.get(reverse("dashboard"), {"interpret_page": asked}).content.decode())
        assert "Recordings 1–20 of 25." in card, asked


def test_staff_have_no_interpretation_worklist(client, clinic_a, staff_a, doctor_a, active_models):
    _signal_recordings(2, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    page, queries = _worklist_queries(client_for(client, staff_a))
    assert 'id="awaiting-interpretation"' not in page and "awaiting interpretation" not in page and queries == 0
    assert "interpret_page" not in page


def test_the_worklist_flags_an_undecided_vf_and_the_event_list_leads_back(client, doctor_a, request):
    recording = request.getfixturevalue("holter_recording")  # 70 s of MIT-BIH 207, with a VF run
    client_for(client, doctor_a)
    undecided = recording.events.filter(type__in=("vf", "asystole"), reviews__isnull=True).count()
    assert undecided >= 1
    row = _card(client.get(reverse("dashboard")).content.decode())
    assert f'href="{at_interpretation(recording)}"' in row and "<td>Holter, 0:01:10</td>" in row
    assert f"{undecided} VF/VFL or asystole undecided" in row
    # the event list, where the section's own link sends the doctor to decide, ends with the way back
    page = page_of(client, recording)
    events = page[page.index('id="events"') : page.index("</section>", page.index('id="events"'))]
    assert events.rstrip().endswith(
        '<p class="back-link no-print"><a href="#interpretation">Back to interpretation</a></p>'
    )


# --- a morning's batch: sign and open the next -------------------------------------------------------------------


def test_sign_and_open_next_goes_to_the_oldest_recording_still_awaiting_then_to_the_dashboard(
    client, clinic_b, staff_a, staff_b, doctor_a, patient_a, active_models
):
    other_clinics = _signal_recordings(1, clinic=clinic_b, staff=staff_b, doctor=doctor_a, models=active_models)
    first, second, third = (beat_recording(staff_a, patient_a) for _ in range(3))
    client_for(client, doctor_a)
    response = sign(client, second, FINDINGS, then="next")
    assert response.status_code == 302 and response["Location"] == at_interpretation(first)  # the oldest left
    page = page_of(client, first)
    section = page[page.index('id="interpretation"') : page.index("</section>", page.index('id="interpretation"'))]
    assert f"Interpretation of recording {second.pk} (Meyer, Anna) signed. This is the next awaiting" in section
    assert sign(client, first, FINDINGS, then="next")["Location"] == at_interpretation(third)  # not the signed one
    # a refusal stays on its recording, with the reason, whatever was asked next
    refused = sign(client, third, " ", then="next")
    assert refused["Location"] == at_interpretation(third) and "the text is blank" in page_of(client, third)
    response = sign(client, third, FINDINGS, then="next")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")  # another clinic's: never
    dashboard = client.get(response["Location"]).content.decode()
    assert f"Interpretation of recording {third.pk} (Meyer, Anna) signed. No other recording awaits" in dashboard
    assert Interpretation.objects.filter(recording__in=[first, second, third]).count() == 3
    assert not Interpretation.objects.filter(recording__in=other_clinics).exists()


# --- signed or preliminary, in the lists of recordings -------------------------------------------------------------


def test_the_lists_of_recordings_say_whose_report_is_signed_and_which_is_preliminary(
    client, staff_a, doctor_a, admin_a, patient_a, recording
):
    doctor_a.first_name, doctor_a.last_name = "Dana", "Doctor"
    doctor_a.save()
    preliminary = beat_recording(staff_a, patient_a)
    queued = beat_recording(staff_a, patient_a, classify=False)
    services.interpretation_sign(user=admin_a, recording=recording, text=FINDINGS)
    services.interpretation_sign(  # the current signer's name
        user=doctor_a, recording=recording, text="Amended.", reason="Corrected."
    )
    client_for(client, staff_a)

    def row(page, r) -> str:
        at = page.index(f'href="{reverse("recording-detail", args=[r.pk])}"')
        return page[at : page.index("</tr>", at)]

    today = client.get(reverse("dashboard")).content.decode()
    today = today[today.index('id="today"') : today.index('id="pending"')]
    signed = row(today, recording)
    assert 'data-report-state="signed" title="Interpretation signed by Dana Doctor">Signed' in signed
    assert '<span class="visually-hidden"> by Dana Doctor</span>' in signed and "admin_a" not in signed
    assert 'data-report-state="preliminary"' in row(today, preliminary) and ">Preliminary</span>" in row(
        today, preliminary
    )
    assert "data-report-state" not in row(today, queued)  # no result, no report
    patient = client.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert (
        'data-report-state="signed" title="Interpretation signed by Dana Doctor">Signed by Dana Doctor</span>'
        in row(patient, recording)
    )
    assert ">Preliminary</span>" in row(patient, preliminary) and "data-report-state" not in row(patient, queued)


# --- what the doctor signs over: a colleague's newer version, undecided episodes, the amendment's reason ---------


def test_a_form_read_before_a_colleagues_signature_does_not_sign_over_it(client, doctor_a, admin_a, recording):
    """A doctor's page showed no interpretation; a colleague signed meanwhile: the doctor's signature is refused,
    the colleague's text shown and the doctor's kept, and signing again over it (the page now names it) works."""
    client.force_login(doctor_a)
    assert 'name="amends" id="id_amends"' in page_of(client, recording)  # the version shown: none
    colleague = services.interpretation_sign(user=admin_a, recording=recording, text="Paroxysmal SVT; 7-day monitor.")
    refused = sign(client, recording, "Normal sinus rhythm.", amends="")
    assert refused.status_code == 302 and refused["Location"] == at_interpretation(recording)
    assert list(recording.interpretations.all()) == [colleague]
    page = page_of(client, recording)
    assert f"{admin_a.display_name} signed a newer version at" in html.unescape(page) and "Paroxysmal SVT" in page
    assert "Normal sinus rhythm." in textarea_of(page)  # the doctor's text, kept
    assert f'name="amends" value="{colleague.pk}"' in page  # now over the version shown
    signed = sign(client, recording, "Normal sinus rhythm.", amends=str(colleague.pk), reason="Re-read the strips.")
    assert signed.status_code == 302 and recording.interpretations.first().amends == colleague
    with pytest.raises(Conflict) as stale:  # the service's own rule
        services.interpretation_sign(user=admin_a, recording=recording, text="X.", amends=colleague.pk, reason="r")
    assert stale.value.code == "interpretation_changed"


def test_signing_with_vf_undecided_takes_saying_so(client, doctor_a, recording):
    Event.objects.create(recording=recording, clinic=recording.clinic, type="vf", start=100, end=900, beats=0)
    client.force_login(doctor_a)
    page = page_of(client, recording)
    assert 'name="acknowledge_undecided"' in page and "Sign with this episode undecided" in page
    assert sign(client, recording, FINDINGS, amends="").status_code == 302
    assert not recording.interpretations.exists()
    assert "1 VF/VFL or asystole episode of this recording awaits a doctor's decision" in html.unescape(
        page_of(client, recording)
    )
    assert sign(client, recording, FINDINGS, amends="", acknowledge_undecided="on").status_code == 302
    assert recording.interpretations.get().text == FINDINGS
    assert recording.interpretations.get().undecided_at_signing == 1  # how it was signed, kept and shown
    assert "Signed with 1 VF/VFL or asystole episode undecided." in page_of(client, recording)
    report = client.get(reverse("recording-report", args=[recording.pk])).content.decode()
    assert "Signed with 1 VF/VFL or asystole episode undecided." in report
    # once decided, no acknowledgement is asked
    services.event_review_create(user=doctor_a, event=recording.events.get(), decision="confirm")
    assert 'name="acknowledge_undecided"' not in page_of(client, recording)
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS + " VF.", reason="VF confirmed.")


def test_an_amendment_needs_its_reason_which_the_page_and_report_keep(client, doctor_a, recording):
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    client.force_login(doctor_a)
    current = recording.interpretations.get()
    assert sign(client, recording, FINDINGS + " PVCs.", amends=str(current.pk), reason="  ").status_code == 302
    page = page_of(client, recording)
    assert recording.interpretations.count() == 1
    reason_box = page[page.index('id="interpretation-reason-error"') :]
    assert "Say why the interpretation is amended" in html.unescape(reason_box[:300])
    assert 'aria-describedby="interpretation-reason-error"' in page and "PVCs." in textarea_of(page)
    sign(client, recording, FINDINGS + " PVCs.", amends=str(current.pk), reason="PVCs \u202emissed.")
    page = page_of(client, recording)
    assert recording.interpretations.count() == 1
    reason_box = page[page.index('id="interpretation-reason-error"') :]
    said = (
        "The reason holds an invisible direction character (U+202E RIGHT-TO-LEFT OVERRIDE): remove it and sign again."
    )
    assert said in html.unescape(reason_box[:400])
    sign(client, recording, FINDINGS + " PVCs.", amends=str(current.pk), reason="PVCs\nmissed.")
    amended = recording.interpretations.first()
    assert amended.reason == "PVCs missed." and amended.amends == current
    assert "Reason for the amendment: PVCs missed." in page_of(client, recording)
    report = client.get(reverse("recording-report", args=[recording.pk])).content.decode()
    assert "(reason: PVCs missed.)" in report


def test_decisions_made_after_the_signature_are_said_beside_it(client, doctor_a, recording):
    services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    client.force_login(doctor_a)
    assert "data-decisions-since" not in page_of(client, recording)
    for start in (10, 2000):
        event = Event.objects.create(
            recording=recording, clinic=recording.clinic, type="vt", start=start, end=start + 900, beats=4
        )
        services.event_review_create(user=doctor_a, event=event, decision="reject", note="artefact")
    page = page_of(client, recording)
    since = page[page.index("data-decisions-since") : page.index("</p>", page.index("data-decisions-since"))]
    assert "2 decisions on rhythm events, the latest on" in since and "amend the interpretation" in since
    report = client.get(reverse("recording-report", args=[recording.pk])).content.decode()
    assert "2 decisions on rhythm events, the latest on" in report


def test_a_decision_on_the_mi_flag_after_the_signature_is_counted_too(doctor_a, staff_a, patient_a, active_models):
    flagged = beat_recording(staff_a, patient_a, beats=30)
    assert flagged.diagnosis.mi_flag  # the tiny MI model flags every recording: it can be reviewed
    signed = services.interpretation_sign(user=doctor_a, recording=flagged, text=FINDINGS)
    assert selectors.decisions_since(recording=flagged, moment=signed.created_at) == {
        "events": 0,
        "mi_flag": 0,
        "latest": None,
    }
    review = services.review_create(user=doctor_a, diagnosis=flagged.diagnosis, decision="reject", note="artefact")
    assert selectors.decisions_since(recording=flagged, moment=signed.created_at) == {
        "events": 0,
        "mi_flag": 1,
        "latest": review.created_at,
    }


def test_the_current_version_is_the_newest_signed_whatever_the_web_hosts_clocks_say(
    doctor_a, admin_a, recording, monkeypatch
):
    """created_at comes from the signing host's clock: one a little behind made the replaced version current, and
    every later signature an IntegrityError (it amended a version amended already)."""
    from datetime import timedelta

    first = services.interpretation_sign(user=doctor_a, recording=recording, text=FINDINGS)
    behind = timezone.now() - timedelta(seconds=2)
    monkeypatch.setattr(timezone, "now", lambda: behind)
    second = services.interpretation_sign(user=admin_a, recording=recording, text="Two.", reason="Re-read.")
    monkeypatch.undo()
    assert second.created_at < first.created_at
    assert selectors.interpretation_current(recording=recording) == second
    assert selectors.interpretations_current(user=doctor_a, recording_ids=[recording.pk])[recording.pk] == second
    third = services.interpretation_sign(user=doctor_a, recording=recording, text="Three.", reason="Again.")
    assert third.amends == second and list(recording.interpretations.all()) == [third, second, first]


def test_a_refused_signature_is_not_audited_as_one(client, doctor_a, recording):
    client.force_login(doctor_a)
    before = AuditEvent.objects.filter(action="review").count()
    assert sign(client, recording, "   ", amends="").status_code == 302  # refused, back to the form
    assert AuditEvent.objects.filter(action="review").count() == before
    assert sign(client, recording, FINDINGS, amends="").status_code == 302
    assert AuditEvent.objects.filter(action="review", object_id=str(recording.pk)).count() == before + 1
