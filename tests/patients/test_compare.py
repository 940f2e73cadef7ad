"""Two of a patient's Holter recordings side by side (before and after a treatment): the figures, the earlier first,
and how each changed; the recordings chosen on the page, scoped to the patient and the clinic."""

import copy
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from diagnostics.models import Diagnosis, ECGRecording

from ..conftest import client_for
from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..factories import PatientFactory, signal_recording
from ..helpers import beat_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def later_holter(first: ECGRecording, **changes) -> ECGRecording:
    """A second Holter recording of the same patient, recorded a month after ``first``, whose summary is the first's
    with ``changes`` (a path of keys, "/"-separated, to a new value)."""
    rhythm = copy.deepcopy(first.diagnosis.rhythm)
    for path, value in changes.items():
        *parents, key = path.split("__")
        node = rhythm
        for name in parents:
            node = node[name]
        node[key] = value
    recording = signal_recording(
        patient=first.patient,
        uploaded_by=first.uploaded_by,
        status="done",
        sampling_rate=first.sampling_rate,
        sample_count=first.sample_count,
        recorded_at=(first.recorded_at or first.created_at) + timedelta(days=30),
    )
    diagnosis = Diagnosis.objects.get(pk=first.diagnosis.pk)
    diagnosis.pk, diagnosis.recording, diagnosis.rhythm = None, recording, rhythm
    diagnosis.save()
    return recording


def table_rows(html: str) -> dict[str, list[str]]:
    """The comparison's rows by label (the last of a label repeated under two headings wins): the two values and
    the change, as text."""
    rows = {}
    for label, cells in re.findall(r'<th scope="row">(.*?)</th>((?:<td[^>]*>.*?</td>)+)</tr>', html):
        rows[label] = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells)]
    return rows


def test_two_holters_side_by_side_the_earlier_first_with_the_change(client, doctor_a, holter):
    first = holter
    rhythm = first.diagnosis.rhythm
    mean = rhythm["heart_rate"]["mean_bpm"]
    second = later_holter(
        first,
        heart_rate__mean_bpm=mean - 7,
        ventricular__burden_pct=rhythm["ventricular"]["burden_pct"] + 1.5,
    )
    # asked later-first: shown earlier-first all the same
    url = reverse("patient-compare", args=[first.patient_id]) + f"?recordings={second.pk}&recordings={first.pk}"
    response = client_for(client, doctor_a).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(f"Recording {first.pk}</a>") < html.index(f"Recording {second.pk}</a>")
    rows = table_rows(html)
    assert rows["Mean heart rate (bpm)"] == [f"{mean:,.0f}", f"{mean - 7:,.0f}", "−7"]
    burden = rows["Burden (% of the beats analysed)"]  # the supraventricular row, last: unchanged
    assert burden[2] == "no change"
    v_burden = re.search(
        r"Ventricular ectopy.*?Burden \(% of the beats analysed\)</th><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td>",
        html,
        re.S,
    )
    assert v_burden and v_burden.group(3) == "+1.5 points"
    # MIT-BIH 207's VF stands in the first (an Event row); the second has no events: told, and marked
    vf = rows["VF/VFL or asystole episodes (standing after review)"]
    assert vf[0] != "0" and vf[1] == "0" and vf[2].startswith("−")
    assert '<tr class="danger">' in html
    # the recordings chosen stay ticked in the chooser
    assert f'value="{first.pk}" id="compare-{first.pk}" checked' in html


def test_the_change_is_that_of_the_figures_as_shown(client, doctor_a, holter):
    """Each figure is shown rounded (a rate to the beat, a burden to a tenth of a point): the change beside them is
    that of the two numbers the doctor reads, not of the unrounded ones (57 and 57 were "+1")."""
    first = later_holter(holter, heart_rate__mean_bpm=56.7, ventricular__burden_pct=1.04)
    second = later_holter(holter, heart_rate__mean_bpm=57.4, ventricular__burden_pct=1.16)
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={first.pk}&recordings={second.pk}"
    html = client_for(client, doctor_a).get(url).content.decode()
    assert table_rows(html)["Mean heart rate (bpm)"] == ["57", "57", "no change"]
    v_burden = re.search(
        r"Ventricular ectopy.*?Burden \(% of the beats analysed\)</th><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td>",
        html,
        re.S,
    )
    assert v_burden and v_burden.groups() == ("1.0", "1.2", "+0.2 points")


def test_without_a_choice_the_two_latest_holters_are_compared_and_beat_files_are_not_offered(client, staff_a, holter):
    second = later_holter(holter)
    beats = beat_recording(staff_a, holter.patient)
    page = client_for(client, staff_a)
    patient_page = page.get(reverse("patient-detail", args=[holter.patient_id])).content.decode()
    assert reverse("patient-compare", args=[holter.patient_id]) in patient_page
    html = page.get(reverse("patient-compare", args=[holter.patient_id])).content.decode()
    assert f"Recording {holter.pk}</a>" in html and f"Recording {second.pk}</a>" in html
    assert f'id="compare-{beats.pk}"' not in html  # a beat file has no Holter summary to compare


def test_one_holter_is_nothing_to_compare(client, staff_a, holter):
    page = client_for(client, staff_a)
    patient_page = page.get(reverse("patient-detail", args=[holter.patient_id])).content.decode()
    assert "Compare recordings" not in patient_page
    html = page.get(reverse("patient-compare", args=[holter.patient_id])).content.decode()
    assert "has 1 recording with a Holter summary: two are needed" in html and "<table" not in html


@pytest.mark.parametrize("ask", ["one", "unknown", "other_patient", "other_clinic", "text"])
def test_a_choice_that_is_not_two_of_the_patients_holters_is_400_saying_so(client, staff_a, staff_b, holter, ask):
    second = later_holter(holter)
    other_patient = PatientFactory(clinic=holter.clinic)
    elsewhere = signal_recording(patient=PatientFactory(clinic=staff_b.clinic), uploaded_by=staff_b, status="done")
    moved = later_holter(holter)
    ECGRecording.objects.filter(pk=moved.pk).update(patient=other_patient)
    chosen = {
        "one": [second.pk],
        "unknown": [second.pk, 999999],
        "other_patient": [second.pk, moved.pk],
        "other_clinic": [second.pk, elsewhere.pk],
        "text": [second.pk, "x"],
    }[ask]
    query = "&".join(f"recordings={c}" for c in chosen)
    url = reverse("patient-compare", args=[holter.patient_id]) + "?" + query
    response = client_for(client, staff_a).get(url)
    assert response.status_code == 400
    html = response.content.decode()
    said = "Choose two recordings to compare (1 chosen)." if ask == "one" else "is not one of"
    assert said in html and "<table" not in html
    assert f'id="compare-{holter.pk}"' in html  # the chooser, to choose again


def test_another_clinics_patient_is_404(client, staff_b, holter):
    url = reverse("patient-compare", args=[holter.patient_id])
    assert client_for(client, staff_b).get(url).status_code == 404


def test_counts_of_recordings_of_different_lengths_are_not_given_a_change(client, doctor_a, holter):
    # a 70-s recording against one of 10 minutes: more beats, ectopics and episodes in the longer say nothing of the
    # heart, and had been given as changes ("+907 beats", "+5 SVT episodes") as if the heart had changed
    rhythm = holter.diagnosis.rhythm
    v = rhythm["ventricular"]
    longer = later_holter(
        holter,
        duration_s=600.0,
        beats_analysed=rhythm["beats_analysed"] * 9,
        ventricular__total=v["total"] * 9,
        heart_rate__mean_bpm=rhythm["heart_rate"]["mean_bpm"] + 12,
    )
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={longer.pk}"
    html = client_for(client, doctor_a).get(url).content.decode()
    note = re.search(r'<p class="notice" id="compare-lengths">(.*?)</p>', html, re.S)
    assert note, "the page does not say the recordings ran for different lengths"
    assert f"Recording {longer.pk} ran 8.6 times as long as recording {holter.pk}" in note.group(1)
    assert html.index('id="compare-lengths"') < html.index("<table")
    rows = table_rows(html)
    for label in ("Beats analysed", "Ectopic beats", "Couplets", "Pauses of 2 s or more", "Episodes"):
        assert rows[label][2] == "not compared", label
    assert rows["Mean heart rate (bpm)"][2] == "+12"  # a rate compares across lengths
    assert rows["Burden (% of the beats analysed)"][2] == "no change"  # and so does a burden

    # lengths within a tenth of each other: counts compared as before, and nothing said
    same = later_holter(holter, duration_s=rhythm["duration_s"] * 1.05)
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={same.pk}"
    html = client_for(client, doctor_a).get(url).content.decode()
    assert 'id="compare-lengths"' not in html
    assert table_rows(html)["Beats analysed"][2] == "no change"


def test_a_change_of_atrial_fibrillation_is_said_beside_the_supraventricular_ectopy(client, doctor_a, holter):
    # supraventricular ectopy leaves out the beats inside AF: a recording mostly in AF shows a small S burden beside
    # one in sinus rhythm, which read as an improvement of 56 points
    in_af = later_holter(holter, af__burden_pct=95.7, supraventricular__burden_pct=3.2)
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={in_af.pk}"
    html = client_for(client, doctor_a).get(url).content.decode()
    note = re.search(r'<p class="notice" id="compare-af">(.*?)</p>', html, re.S)
    assert note, "the page does not say the AF burdens differ"
    assert f"took 0.0 % of recording {holter.pk} and 95.7 % of recording {in_af.pk}" in note.group(1)
    assert html.index('id="compare-af"') < html.index("<table")

    alike = later_holter(holter, af__burden_pct=3.0)  # under 5 points apart: nothing said
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={alike.pk}"
    assert 'id="compare-af"' not in client_for(client, doctor_a).get(url).content.decode()


def test_a_rhythm_not_yet_following_a_beat_correction_is_said_on_the_patient_and_compare_pages(
    client, doctor_a, holter
):
    """After a doctor corrects beat classes the summary's ectopy, runs and rate are from before it until the worker
    has recomputed them (or for good, where it could not): the lists that show them say so, as the recording's page,
    its report and FHIR do."""
    second = later_holter(holter)
    page = client_for(client, doctor_a)
    detail, compare = (
        reverse("patient-detail", args=[holter.patient_id]),
        reverse("patient-compare", args=[holter.patient_id]),
    )
    assert "beat correction" not in page.get(detail).content.decode()
    Diagnosis.objects.filter(recording=second).update(rhythm_outdated_at=timezone.now())
    assert "Rhythm being recomputed after a beat correction" in page.get(detail).content.decode()
    html = page.get(compare).content.decode()
    assert f'id="compare-rhythm-{second.pk}"' in html and "is being recomputed" in html
    assert f'id="compare-rhythm-{holter.pk}"' not in html
    Diagnosis.objects.filter(recording=second).update(rhythm_recompute_error="The signal could not be read again.")
    assert "Rhythm from before a beat correction" in page.get(detail).content.decode()
    assert (
        "could not be recomputed over them (The signal could not be read again.)" in page.get(compare).content.decode()
    )


def test_a_vt_a_doctor_rejected_is_neither_on_the_patient_page_nor_in_the_comparison(client, staff_a, doctor_a, holter):
    """The patient page's rhythm column and the comparison left out a rejected VF/VFL or asystole but still counted a
    rejected VT (FHIR and the API leave out every event a doctor rejected)."""
    from diagnostics import services
    from diagnostics.models import Event

    counts = holter.diagnosis.rhythm["event_counts"]
    second = later_holter(holter, event_counts={**counts, "vt": counts.get("vt", 0) + 1})
    vt = Event.objects.create(
        recording=second, clinic_id=second.clinic_id, type="vt", start=1000, end=1600, beats=4, rate_bpm=160.0
    )
    client_for(client, staff_a)
    page = reverse("patient-detail", args=[holter.patient_id])
    compare = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={second.pk}"
    said = f"VT {counts.get('vt', 0) + 1}"
    assert said in client.get(page).content.decode()
    assert table_rows(client.get(compare).content.decode())["Ventricular tachycardia episodes"][1] == str(
        counts.get("vt", 0) + 1
    )
    services.event_review_create(user=doctor_a, event=vt, decision="reject", note="artefact")
    assert said not in client.get(page).content.decode()
    assert table_rows(client.get(compare).content.decode())["Ventricular tachycardia episodes"][1] == str(
        counts.get("vt", 0)
    )


def test_a_strip_with_no_beat_found_has_no_ectopic_burden_to_compare(client, doctor_a, holter):
    """A strip in VF throughout analyses no beat: a share of no beats is no figure, not 0.0 % (nor "no change" beside
    the other recording's burden)."""
    strip = later_holter(
        holter,
        beats_analysed=0,
        ventricular__total=0,
        ventricular__burden_pct=0.0,
        supraventricular__total=0,
        supraventricular__burden_pct=0.0,
    )
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={strip.pk}"
    html = client_for(client, doctor_a).get(url).content.decode()
    burdens = re.findall(
        r"Burden \(% of the beats analysed\)</th><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td>", html, re.S
    )
    assert len(burdens) == 2
    for first, second, change in burdens:
        assert first != "—" and second == "—" and change == "—", burdens


def test_a_burden_under_a_tenth_reads_alike_on_the_summary_the_patient_page_and_the_comparison(
    client, doctor_a, holter
):
    """An AF burden of 0.05 % had read "0.05 %" in the summary, "AF < 0.1 %" on the patient page and "0.1" in the
    comparison, and a ventricular burden of 0.04 % "< 0.1 %" beside its count and "0.0" on the row below: one
    writing of a share (to a tenth, "< 0.1" for one above nothing that rounds to none) on every page."""
    later = later_holter(holter, af__burden_pct=0.05, ventricular__total=1, ventricular__burden_pct=0.04)
    doctor = client_for(client, doctor_a)
    url = reverse("patient-compare", args=[holter.patient_id]) + f"?recordings={holter.pk}&recordings={later.pk}"
    html = doctor.get(url).content.decode()
    af = re.search(r"Burden \(%\)</th><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td>", html)
    # the change that of the figures as shown: "0.0" to "< 0.1" is no "+0.1 points"
    assert af and af.groups() == ("0.0", "&lt; 0.1", "up by under 0.1 points"), af and af.groups()
    v = re.search(r"Burden \(% of the beats analysed\)</th><td>(.*?)</td><td>(.*?)</td>", html)
    assert v and v.group(2) == "&lt; 0.1", v and v.groups()
    patient = doctor.get(reverse("patient-detail", args=[holter.patient_id])).content.decode()
    assert "AF &lt; 0.1 %" in patient and "V ectopy 1 (&lt; 0.1 %)" in patient
    for name in ("recording-detail", "recording-report"):
        page = doctor.get(reverse(name, args=[later.pk])).content.decode()
        assert "burden &lt; 0.1 % of the time" in page and "1 beat (&lt; 0.1 % of the" in page, name
