"""Beats chosen one by one on the recording's page: a doctor ticks beats in the beat table (or selects one in the ECG
viewer) and calls them another class; the counts follow, the page comes back where it was, a refusal is said beside
the form with the ticks as they were, and staff see no checkboxes."""

import re
from html import unescape

import pytest
from django.urls import reverse

from accounts.models import User
from diagnostics import corrections
from diagnostics.models import Beat, BeatCorrection, Diagnosis

from ..conftest import client_for
from ..factories import UserFactory
from ..helpers import beat_recording

pytestmark = pytest.mark.django_db
BEATS = 60  # two pages of the table


@pytest.fixture
def recording(staff_a, patient_a, active_models):
    return beat_recording(staff_a, patient_a, beats=BEATS)


def _page(client, recording, **query) -> str:
    response = client.get(reverse("recording-detail", args=[recording.pk]), query)
    assert response.status_code == 200
    return unescape(response.content.decode())


def _pick(client, recording, beats, to_class, note="", **fields):
    return client.post(
        reverse("recording-beats-correct", args=[recording.pk]),
        {"beats": [str(i) for i in beats], "to_class": to_class, "note": note, **fields},
    )


def _class_of(recording, index: int) -> str:
    return Beat.objects.get(recording=recording, index=index).aami_class


def _another_class(recording, indices) -> str:
    """A class none of these beats has."""
    have = set(Beat.objects.filter(recording=recording, index__in=indices).values_list("aami_class", flat=True))
    return next(c for c in "VFQSN" if c not in have)


def test_a_doctor_ticks_three_beats_and_they_change_class(client, doctor_a, recording):
    chosen = [1, 4, 7]
    to = _another_class(recording, chosen)
    before = Diagnosis.objects.get(recording=recording)
    client_for(client, doctor_a)
    html = _page(client, recording)
    assert 'id="beat-pick"' in html and html.count('type="checkbox" name="beats"') == 50  # one per row of the page
    assert 'form="beat-pick" id="pick-0" aria-label="Tick beat 1"' in html

    response = _pick(client, recording, chosen, to, note="wide, early", back="page=1")
    detail = reverse("recording-detail", args=[recording.pk])
    assert response.status_code == 302 and response["Location"] == f"{detail}?page=1#beat-pick"
    made = BeatCorrection.objects.get()
    assert (made.family, made.beat_indices, made.to_class, made.note) == (None, chosen, to, "wide, early")
    assert [_class_of(recording, i) for i in chosen] == [to] * 3

    html = _page(client, recording, page=1)
    form = html[html.index('id="beat-pick"') : html.index("</form>", html.index('id="beat-pick"'))]
    assert f"Beats 2, 5 and 8 are now {to} (" in form  # said beside the form, by the table's numbers
    assert "data-ticks-done" in form  # the ticks the page's script kept for the correction are forgotten
    assert "data-ticks-done" not in _page(client, recording, page=1)  # once
    after = Diagnosis.objects.get(recording=recording)
    assert getattr(after, f"count_{to.lower()}") == getattr(before, f"count_{to.lower()}") + 3
    counts = html[html.index('<table class="counts">') : html.index("</table>", html.index('<table class="counts">'))]
    assert f'<span class="cls cls-{to}">{to}</span></th><td>{getattr(after, f"count_{to.lower()}")}</td>' in counts
    assert f"({getattr(after, f'count_{to.lower()}')})</label>" in html  # the class filter's count
    assert html.count('class="corrected-from small">corrected from') == 3
    assert "3 beats' classes corrected by a doctor" in html


def test_the_table_comes_back_at_the_page_and_class_the_beats_were_ticked_on(client, doctor_a, recording):
    to = _another_class(recording, [52])
    client_for(client, doctor_a)
    fragment = client.get(reverse("recording-beats", args=[recording.pk]), {"page": 2}).content.decode()
    assert 'name="back" value="page=2"' in fragment and 'id="pick-52"' in fragment  # htmx paging keeps the form

    response = _pick(client, recording, [52], to, back="page=2&beats_class=&next=https://example.org/&beats_at=1")
    assert response["Location"] == reverse("recording-detail", args=[recording.pk]) + "?page=2#beat-pick"
    assert f"Beat 53 is now {to} (" in _page(client, recording, page=2)


@pytest.mark.parametrize(
    "case,reason",
    [
        ("none", "Tick the beats to change first: none was ticked."),
        ("too-many", "At most 1,000 beats can be named in one correction."),
        # a field as long as the route takes (1 MiB) is not read to its end (half a million indices had been read, and
        # fingerprinted, before the service counted them)
        ("far-too-many", "At most 1,000 beats can be named in one correction."),
        # by the table's numbers, from 1 (the API's indices, from 0, are its own)
        ("not-a-beat", f"There is no beat 601: this recording's beats are numbered 1 to {BEATS}."),
        ("unchanged", "These beats are class {cls} already."),
        ("no-class", "Choose the class to call these beats."),
    ],
)
def test_a_refusal_is_said_beside_the_form_with_the_ticks_kept(client, doctor_a, recording, case, reason):
    cls = _class_of(recording, 3)
    beats, to = {
        "none": ([], "V"),
        "too-many": ([",".join(str(i) for i in range(1001))], "V"),  # in one field, as the page's script sends them
        "far-too-many": ([",".join(["7"] * 400_000)], "V"),  # 800 kB: the route takes 1 MiB
        "not-a-beat": ([3, 600], "V"),
        "unchanged": ([3], cls),
        "no-class": ([3], ""),
    }[case]
    response = _pick(client_for(client, doctor_a), recording, beats, to, back="page=1")
    assert response.status_code == 302 and response["Location"].endswith("?page=1#beat-pick")
    assert not BeatCorrection.objects.exists()
    html = _page(client, recording, page=1)
    said = re.search(
        rf'<p class="error" id="beat-pick-{"to_class-" if to == "" else ""}error" role="alert">([^<]*)</p>', html
    )
    assert said and said.group(1).startswith(reason.format(cls=cls))
    if beats and case not in ("too-many", "far-too-many"):
        assert 'id="pick-3" aria-label="Tick beat 4" checked' in html  # ticked as sent
    assert "data-ticks-done" not in html  # the ticks kept: nothing was corrected
    assert 'role="alert"' not in _page(client, recording)  # said once


def test_a_thousand_beats_travel_in_one_field_past_django_s_limit_of_fields(
    client, staff_a, patient_a, doctor_a, active_models
):
    recording = beat_recording(staff_a, patient_a, beats=1000)
    client_for(client, doctor_a)
    every = ",".join(str(i) for i in range(1000))
    response = _pick(client, recording, [every], "Q", back="page=1")  # with the form's others: past 1,000 fields
    assert response.status_code == 302 and response["Location"].endswith("?page=1#beat-pick")
    made = BeatCorrection.objects.get()
    assert set(Beat.objects.filter(recording=recording).values_list("aami_class", flat=True)) == {"Q"}
    assert made.beat_indices == [i for i in range(1000) if i in made.beat_indices] and made.beats_changed > 0
    # the checkboxes without scripts (one field each) and a list in one field go together
    to = _another_class(recording, [3, 9, 12])
    _pick(client, recording, [3, "9,12"], to, back="page=1")
    assert [_class_of(recording, i) for i in (3, 9, 12)] == [to] * 3


def test_a_doctor_changes_the_beat_selected_in_the_viewer_and_returns_to_it(client, doctor_a, recording):
    to = _another_class(recording, [9])
    client_for(client, doctor_a)
    html = _page(client, recording)
    template = html[html.index("<template data-correct-form>") : html.index("</template>")]
    assert 'name="then" value="viewer"' in template and 'name="csrfmiddlewaretoken"' in template
    assert "<script" not in template and " style=" not in template

    response = _pick(client, recording, [9], to, then="viewer")
    assert response["Location"] == reverse("recording-detail", args=[recording.pk]) + "?beat=9#viewer"
    html = _page(client, recording, beat=9)
    viewer = html[html.index('id="viewer"') : html.index("</section>", html.index('id="viewer"'))]
    assert 'data-select="9"' in viewer and f"Beat 10 is now {to} (" in viewer
    data = client.get(reverse("beat-data", args=[recording.pk, 9])).json()
    assert data["class"] == to and data["corrected_from"] != ""

    missing = _pick(client, recording, [BEATS], to, then="viewer")
    assert missing["Location"].endswith("?beat=60#viewer")
    viewer = _page(client, recording, beat=BEATS)
    assert f"There is no beat {BEATS + 1}: this recording's beats are numbered 1 to {BEATS}." in viewer

    again = _pick(client, recording, [9], to, then="viewer")
    assert again["Location"].endswith("?beat=9#viewer")
    viewer = _page(client, recording, beat=9)
    assert f'<p class="error" id="viewer-correct-error" role="alert">These beats are class {to} already.</p>' in viewer


def test_staff_see_no_checkboxes_and_may_not_correct_and_another_clinic_sees_nothing(
    client, staff_a, clinic_b, recording
):
    client_for(client, staff_a)
    html = _page(client, recording)
    assert 'name="beats"' not in html and 'id="beat-pick"' not in html and "data-correct-form" not in html
    fragment = client.get(reverse("recording-beats", args=[recording.pk]), {"page": 2}).content.decode()
    assert 'name="beats"' not in fragment
    assert _pick(client, recording, [1], "V").status_code == 403

    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)
    client_for(client, doctor_b)
    assert _pick(client, recording, [1], "V").status_code == 404
    assert not BeatCorrection.objects.exists()


MEANWHILE = "A colleague corrected this recording's beats meanwhile: look again. Nothing was changed."


def test_beats_corrected_by_a_colleague_meanwhile_are_not_corrected_over(client, doctor_a, recording):
    client_for(client, doctor_a)
    html = _page(client, recording)
    table_seen = re.search(r'name="seen" value="([0-9.]+)" id="beat-pick-seen"', html)
    template = html[html.index("<template data-correct-form>") : html.index("</template>")]
    viewer_seen = re.search(r'name="seen" value="([0-9.]+)"', template)
    assert table_seen and viewer_seen and table_seen.group(1) == viewer_seen.group(1) == "0.0"
    colleague = UserFactory(username="doctor_a2", clinic=recording.clinic, role=User.Role.DOCTOR)
    made = corrections.beat_correction_make(
        recording=recording, by=colleague, to_class=_another_class(recording, [20]), beats=[20]
    )

    to = _another_class(recording, [3, 4])
    response = _pick(client, recording, [3, 4], to, back="page=1", seen="0.0")
    assert response["Location"].endswith("?page=1#beat-pick") and BeatCorrection.objects.count() == 1
    html = _page(client, recording, page=1)
    assert f'<p class="error" id="beat-pick-error" role="alert">{MEANWHILE}</p>' in html
    assert 'id="pick-3" aria-label="Tick beat 4" checked' in html  # the ticks kept, to send again once looked at
    seen = re.search(r'name="seen" value="([0-9.]+)" id="beat-pick-seen"', html).group(1)
    assert seen != "0.0"

    # the viewer's form, after a colleague's undo
    corrections.beat_correction_undo(correction=made, by=colleague)
    response = _pick(client, recording, [9], _another_class(recording, [9]), then="viewer", seen=seen)
    assert response["Location"].endswith("?beat=9#viewer") and BeatCorrection.objects.count() == 1
    assert f'<p class="error" id="viewer-correct-error" role="alert">{MEANWHILE}</p>' in _page(client, recording)

    # a form sending the version as it is goes through
    current = re.search(r'name="seen" value="([0-9.]+)" id="beat-pick-seen"', _page(client, recording)).group(1)
    _pick(client, recording, [3, 4], to, back="page=1", seen=current)
    assert BeatCorrection.objects.count() == 2 and _class_of(recording, 3) == to


def test_a_refused_note_is_said_beside_the_note_not_as_a_missing_beat(client, doctor_a, recording):
    # the service reads the note before the beats: its refusal of the note had been reworded as "There is no beat …"
    response = _pick(client_for(client, doctor_a), recording, [3, 600], "V", note="a\x07b", back="page=1")
    assert response.status_code == 302
    html = _page(client, recording, page=1)
    said = re.search(r'<p class="error" id="beat-pick-note-error" role="alert">([^<]*)</p>', html)
    assert said and "control character" in said.group(1) and "There is no beat" not in html
    assert not BeatCorrection.objects.exists()
