"""The beat shapes page: a recording's families class by class, a doctor's correction of a family's class through
its form (the counts follow on the recording's page; a refusal comes back beside the field), the corrections'
history and its undo, and who may do what."""

import re
from html import unescape

import numpy as np
import pytest
import wfdb
from django.urls import reverse

from accounts.models import User
from diagnostics import corrections, services
from diagnostics.models import BeatCorrection, BeatFamily, Diagnosis, ECGRecording

from ..conftest import client_for
from ..data import mitdb_dir
from ..factories import UserFactory
from ..helpers import wfdb_files
from .test_beat_corrections import analysed, record_model  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.django_db


def _shapes(client, recording) -> str:
    response = client.get(reverse("recording-shapes", args=[recording.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _largest(recording, cls: str | None = None) -> BeatFamily:
    families = BeatFamily.objects.filter(recording=recording)
    return (families.filter(aami_class=cls) if cls else families).order_by("-beats").first()


def _correct(client, recording, family: BeatFamily, to_class: str, note: str = ""):
    return client.post(
        reverse("recording-beat-correct", args=[recording.pk]),
        {"family": family.number, "to_class": to_class, "note": note},
    )


def test_staff_see_each_class_s_shapes_drawn_and_linked_without_forms(client, staff_a, analysed):  # noqa: F811
    html = _shapes(client_for(client, staff_a), analysed)
    families = list(BeatFamily.objects.filter(recording=analysed).order_by("number"))
    classes = [c for c in "NSVFQ" if any(f.aami_class == c for f in families)]
    headings = re.findall(r'<h2 id="class-([NSVFQ])-title">', html)
    assert headings == classes  # N, S, V, F, Q in that order, those the recording has
    assert html.count('class="paper template"') == len(families)
    for f in families:
        assert f'href="/recordings/{analysed.pk}/?beat={f.example}#viewer"' in html
        assert f'href="/recordings/{analysed.pk}/?beats_family={f.number}#beat-table"' in html
    if any(f.rare for f in families):
        assert "rare shapes</span>" in html
    assert 'name="to_class"' not in html and "No beat has had its class corrected." in html
    main = html[html.index("<main") :]
    assert " style=" not in main and "<script" not in main


def test_the_recording_page_links_to_the_shapes_and_opens_the_viewer_at_a_beat(client, staff_a, analysed):  # noqa: F811
    family = _largest(analysed)
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[analysed.pk]), {"beat": family.example})
    html = page.content.decode()
    assert f'href="{reverse("recording-shapes", args=[analysed.pk])}"' in html
    assert f'data-select="{family.example}"' in html  # the viewer selects it once loaded
    table = client.get(reverse("recording-beats", args=[analysed.pk]), {"beats_family": family.number}).content
    assert f"of {family.aami_class} shape {family.number + 1} 1–".encode() in table


def test_a_doctor_calls_a_family_another_class_and_the_recording_page_follows(client, doctor_a, analysed):  # noqa: F811
    family = _largest(analysed, "N")
    before = Diagnosis.objects.get(recording=analysed)
    client_for(client, doctor_a)
    assert f'id="family-{family.number}-form"' in _shapes(client, analysed)

    response = _correct(client, analysed, family, "S", note="premature, narrow")
    assert response.status_code == 302 and response["Location"] == reverse("recording-shapes", args=[analysed.pk])
    html = _shapes(client, analysed)
    assert f"{family.beats:,} beats of N shape {family.number + 1} are now S (supraventricular ectopic)." in html
    assert "The rhythm is being recomputed after a correction" in html
    history = html[html.index('id="corrections"') :]
    assert f'{family.beats} <span class="cls cls-N">N</span> → <span class="cls cls-S">S</span>' in history
    assert "“premature, narrow”" in history and "Undo" in history

    after = Diagnosis.objects.get(recording=analysed)
    assert after.count_s == before.count_s + family.beats and after.count_n == before.count_n - family.beats
    page = client.get(reverse("recording-detail", args=[analysed.pk])).content.decode()
    counts = page[page.index('<table class="counts">') : page.index("</table>", page.index('<table class="counts">'))]
    assert f'<span class="cls cls-S">S</span></th><td>{after.count_s}</td>' in counts
    said = f"{family.beats} beats' classes corrected by a doctor (latest by {doctor_a.display_name} on"
    assert said in unescape(page)
    assert 'id="rhythm-recomputing"' in page and "?was=recomputing" in page
    table = client.get(reverse("recording-beats", args=[analysed.pk]), {"beats_family": family.number}).content
    assert b'corrected from <span class="cls cls-N">N</span>' in table


def test_the_pages_number_shapes_from_1_as_they_number_beats(client, doctor_a, analysed):  # noqa: F811
    families = list(BeatFamily.objects.filter(recording=analysed).order_by("number"))
    first = families[0]
    assert first.number == 0
    client_for(client, doctor_a)
    html = _shapes(client, analysed)
    numbers = [int(n) for n in re.findall(r"<h3>[NSVFQ] shape (\d+)", html)]
    assert sorted(numbers) == [f.number + 1 for f in families]  # the rare shapes' heading too
    said = f"rare {first.aami_class} shapes" if first.rare else f"{first.aami_class} shape 1"

    to = "Q" if first.aami_class != "Q" else "F"
    _correct(client, analysed, first, to)
    html = _shapes(client, analysed)
    assert f"of {said} {'is' if first.beats == 1 else 'are'} now {to} (" in html
    history = html[html.index('id="corrections"') :]
    assert f": {said}</h3>" in history
    table = client.get(reverse("recording-beats", args=[analysed.pk]), {"beats_family": 0}).content.decode()
    assert f"of {said} 1–" in table
    report = client.get(reverse("recording-report", args=[analysed.pk])).content.decode()
    assert f"of shape 1 from {first.aami_class}" in report
    missing = client.get(reverse("recording-beats", args=[analysed.pk]), {"beats_family": 999}).content.decode()
    assert "This recording has no beat shape 1000: beats of every shape are shown." in missing
    assert "shape 0" not in html + table + report


def test_the_page_reloads_itself_once_the_rhythm_is_recomputed(client, doctor_a, analysed):  # noqa: F811
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", family=_largest(analysed).number)
    status = reverse("recording-status", args=[analysed.pk])
    client_for(client, doctor_a)
    polling = client.get(status, {"was": "recomputing"})
    assert "HX-Refresh" not in polling and b"?was=recomputing" in polling.content
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    done = client.get(status, {"was": "recomputing"})
    assert done["HX-Refresh"] == "true" and b"hx-get" not in done.content
    page = client.get(reverse("recording-detail", args=[analysed.pk])).content.decode()
    assert 'id="rhythm-recomputing"' not in page and "being recomputed" not in page


def test_a_failed_recomputation_is_said_as_an_error(client, doctor_a, analysed):  # noqa: F811
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", family=_largest(analysed).number)
    corrections.rhythm_recompute_failed(recording_id=analysed.pk, reason="The signal could not be read again.")
    page = client_for(client, doctor_a).get(reverse("recording-detail", args=[analysed.pk])).content.decode()
    assert 'id="rhythm-recompute-error"' in page and "The signal could not be read again." in page
    assert "?was=recomputing" not in page  # nothing more to wait for


@pytest.mark.parametrize(
    "to_class,note,field,reason",
    [
        ("", "", "to_class", "Choose the class to call these beats."),
        ("same", "", "to_class", "These beats are class {cls} already."),
        ("V", "x" * 501, "note", "The note is 501 characters long; at most 500 are allowed."),
    ],
)
def test_a_refused_correction_comes_back_beside_its_field(
    client,
    doctor_a,
    analysed,  # noqa: F811
    to_class,
    note,
    field,
    reason,
):
    family = _largest(analysed, "N")
    response = _correct(
        client_for(client, doctor_a), analysed, family, family.aami_class if to_class == "same" else to_class, note
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#family-{family.number}-form")
    html = _shapes(client, analysed)
    error = re.search(rf'<p class="error" id="family-{family.number}-{field}-error" role="alert">([^<]*)</p>', html)
    assert error and error.group(1) == reason.format(cls=family.aami_class).replace("'", "&#x27;")
    assert f'id="family-{family.number}-{field}"' in html and 'aria-invalid="true"' in html
    if note:
        assert f'value="{note}"' in html  # as typed
    assert not BeatCorrection.objects.exists()
    assert "-error" not in _shapes(client, analysed)  # said once


def _seen(html: str, form_id: str) -> str:
    """The version of the corrections a form sends back (its hidden ``seen``)."""
    form = html[html.index(f'id="{form_id}"') : html.index("</form>", html.index(f'id="{form_id}"'))]
    found = re.search(r'name="seen" value="([0-9.]+)"', form)
    assert found, form[:300]
    return found.group(1)


def test_a_colleague_s_correction_made_meanwhile_is_not_corrected_over(client, doctor_a, analysed):  # noqa: F811
    family = _largest(analysed, "N")
    other = BeatFamily.objects.filter(recording=analysed).exclude(pk=family.pk).order_by("-beats").first()
    client_for(client, doctor_a)
    seen = _seen(_shapes(client, analysed), f"family-{family.number}-form")
    colleague = UserFactory(username="doctor_a2", clinic=analysed.clinic, role=User.Role.DOCTOR)
    to = "Q" if other.aami_class != "Q" else "F"
    corrections.beat_correction_make(recording=analysed, by=colleague, to_class=to, family=other.number)
    counts = Diagnosis.objects.get(recording=analysed).class_counts()

    url = reverse("recording-beat-correct", args=[analysed.pk])
    response = client.post(url, {"family": family.number, "to_class": "S", "note": "narrow", "seen": seen})
    assert response.status_code == 302 and response["Location"].endswith(f"#family-{family.number}-form")
    assert BeatCorrection.objects.count() == 1 and Diagnosis.objects.get(recording=analysed).class_counts() == counts
    html = _shapes(client, analysed)
    error = re.search(rf'<p class="error" id="family-{family.number}-to_class-error" role="alert">([^<]*)</p>', html)
    said = "A colleague corrected this recording's beats meanwhile: look again. Nothing was changed."
    assert error and unescape(error.group(1)) == said
    assert 'value="narrow"' in html  # as typed

    # the page as it is now sends the version it shows: looked at again, the correction goes through
    again = _seen(html, f"family-{family.number}-form")
    assert again != seen
    client.post(url, {"family": family.number, "to_class": "S", "seen": again})
    assert BeatCorrection.objects.count() == 2 and BeatCorrection.objects.latest("id").made_by == doctor_a

    # an undo moves the version too
    html = _shapes(client, analysed)
    before_undo = _seen(html, f"family-{family.number}-form")
    corrections.beat_correction_undo(correction=BeatCorrection.objects.latest("id"), by=colleague)
    client.post(url, {"family": family.number, "to_class": "V", "seen": before_undo})
    assert BeatCorrection.objects.count() == 2
    assert said in unescape(_shapes(client, analysed))


def test_undo_gives_the_classes_back_latest_first(client, doctor_a, analysed):  # noqa: F811
    family = _largest(analysed, "N")
    before = Diagnosis.objects.get(recording=analysed).count_n
    client_for(client, doctor_a)
    _correct(client, analysed, family, "S")
    _correct(client, analysed, family, "F")
    first, second = BeatCorrection.objects.order_by("id")
    undo = "recording-beat-correction-undo"
    refused = client.post(reverse(undo, args=[analysed.pk, first.pk]))
    assert refused.status_code == 302
    assert "undo that one first" in _shapes(client, analysed)
    html = _shapes(client, analysed)
    assert html.count(">Undo<") == 1 and f"/corrections/{second.pk}/undo/" in html

    for correction in (second, first):
        response = client.post(reverse(undo, args=[analysed.pk, correction.pk]))
        assert response.status_code == 302 and response["Location"].endswith("#corrections")
    html = _shapes(client, analysed)
    assert "was undone: each beat has the class it had before it." in html
    assert html.count(f"by {doctor_a.display_name}: each beat has the class it had before it.") == 2
    assert Diagnosis.objects.get(recording=analysed).count_n == before
    again = client.post(reverse(undo, args=[analysed.pk, first.pk]))
    assert again.status_code == 302 and "had been undone already." in _shapes(client, analysed)


def test_undoing_a_one_beat_correction_says_one_beat(client, doctor_a, analysed):  # noqa: F811
    index = next(b.index for b in analysed.beats.order_by("index") if b.aami_class != "V")
    made = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[index])
    client_for(client, doctor_a).post(reverse("recording-beat-correction-undo", args=[analysed.pk, made.pk]))
    html = unescape(_shapes(client, analysed))
    assert "The correction of 1 beat to V was undone" in html
    client.post(reverse("recording-beat-correction-undo", args=[analysed.pk, made.pk]))
    assert "The correction of 1 beat to V had been undone already." in unescape(_shapes(client, analysed))


def test_staff_may_not_correct_nor_undo_and_another_clinic_sees_nothing(
    client,
    staff_a,
    doctor_a,
    clinic_b,
    staff_b,
    analysed,  # noqa: F811
):
    family = _largest(analysed)
    made = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", family=family.number)
    client_for(client, staff_a)
    assert _correct(client, analysed, family, "V").status_code == 403
    assert client.post(reverse("recording-beat-correction-undo", args=[analysed.pk, made.pk])).status_code == 403
    assert BeatCorrection.objects.get().undone_at is None

    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)
    client_for(client, doctor_b)
    assert client.get(reverse("recording-shapes", args=[analysed.pk])).status_code == 404
    assert _correct(client, analysed, family, "V").status_code == 404
    assert client.post(reverse("recording-beat-correction-undo", args=[analysed.pk, made.pk])).status_code == 404

    # another clinic's staff too: the 404 of a recording they cannot see, before the 403 of their role
    client_for(client, staff_b)
    assert _correct(client, analysed, family, "V").status_code == 404
    picked = client.post(reverse("recording-beats-correct", args=[analysed.pk]), {"beats": ["0"], "to_class": "V"})
    assert picked.status_code == 404
    assert client.post(reverse("recording-beat-correction-undo", args=[analysed.pk, made.pk])).status_code == 404
    assert BeatCorrection.objects.get().undone_at is None


SHAPES_MAX_QUERIES = 12  # session and user, the recording, its diagnosis, families, their classes now, corrections


def test_the_shapes_page_costs_a_constant_number_of_queries(
    client,
    doctor_a,
    analysed,  # noqa: F811
    django_assert_max_num_queries,
):
    families = list(BeatFamily.objects.filter(recording=analysed).order_by("number"))
    for family in families[:3]:
        to = "F" if family.aami_class != "F" else "Q"
        corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class=to, family=family.number)
    client_for(client, doctor_a)
    with django_assert_max_num_queries(SHAPES_MAX_QUERIES):
        html = _shapes(client, analysed)
    assert html.count('<li id="correction-') == 3


def test_the_second_lead_is_named_as_the_one_drawn_not_the_file_s_next(
    client,
    tmp_path,
    doctor_a,
    patient_a,
    active_models,
    record_model,  # noqa: F811
):
    """A file whose lead after the analysed one is flat (a lead off): the shapes are drawn in the lead the analysis
    took beside it (ecg.processing.context.other_lead skips a flat lead), and the page names that one."""
    record = wfdb.rdrecord(str(mitdb_dir() / "119"), sampto=360 * 120)
    mlii, v1 = record.p_signal[:, 0], record.p_signal[:, 1]
    files = wfdb_files(tmp_path, {"MLII": mlii, "V2": np.zeros_like(mlii), "V1": v1})
    client_for(client, doctor_a)
    response = client.post(reverse("recording-upload", args=[patient_a.pk]), {"kind": "signal", "files": files})
    assert response.status_code == 302, response.content.decode()[-800:]
    recording = ECGRecording.objects.get()
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    family = _largest(recording)
    assert len(family.template["leads"]) == 2 and any(family.template["leads"][1])  # V1 drawn, not the flat V2
    html = unescape(_shapes(client, recording))
    assert "(lead MLII left, lead V1 right)" in html
    assert "lead V2" not in html
    assert "and lead V1" in html  # the drawing's title


def test_shapes_found_before_their_leads_were_named_do_not_guess_among_several_others():
    from diagnostics.shapes import lead_names

    drawn = [BeatFamily(template={"leads": [[0.0], [0.0]]})]
    assert lead_names(ECGRecording(lead="MLII", leads=["MLII", "V2", "V1"]), drawn) == ["lead MLII", "second lead"]
    assert lead_names(ECGRecording(lead="MLII", leads=["MLII", "V1"]), drawn) == ["lead MLII", "lead V1"]
    named = [BeatFamily(template={"leads": [[0.0], [0.0]], "lead_names": ["MLII", "V1"]})]
    assert lead_names(ECGRecording(lead="MLII", leads=["MLII", "V2", "V1"]), named) == ["lead MLII", "lead V1"]


def test_an_undos_message_is_in_the_corrections_where_the_page_scrolls_not_at_the_top(client, doctor_a, analysed):  # noqa: F811
    """The undo sends the page back to #corrections, at the foot of a long page: its message (above all a refusal,
    which changes nothing else there) stood at the page's top, out of view."""
    family = _largest(analysed, "N")
    client_for(client, doctor_a)
    _correct(client, analysed, family, "S")
    _correct(client, analysed, family, "F")
    first, second = BeatCorrection.objects.order_by("id")
    undo = "recording-beat-correction-undo"
    for correction, said in ((first, "undo that one first"), (second, "was undone: each beat")):
        html = client.post(reverse(undo, args=[analysed.pk, correction.pk]), follow=True).content.decode()
        section = html[html.index('<section class="card" id="corrections"') :]
        section = section[: section.index('<ol class="corrections">')]
        assert said in section and ('role="alert"' in section or 'role="status"' in section), section
        main = html[html.index('<main id="main"') :]
        assert said not in main[: main.index('id="corrections"')], "shown at the top too"
