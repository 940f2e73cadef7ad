"""recordings/{id}/beat-families and beat-corrections: the shapes of a recording's beats and a doctor's corrections of
their classes over the API, the counts and the rhythm's state following; refusals, preconditions and clinic scope."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.http import http_date, parse_http_date

from diagnostics import corrections
from diagnostics.models import BeatCorrection, BeatFamily, Diagnosis, ECGRecording

from ..diagnostics.test_beat_corrections import analysed, record_model  # noqa: F401  (fixtures, used by name)
from ..helpers import strict_validator
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db


def url(recording, tail: str = "beat-corrections") -> str:
    return f"/api/v1/recordings/{recording.pk}/{tail}"


def detail(recording) -> str:
    return f"/api/v1/recordings/{recording.pk}"


@pytest.fixture
def openapi(client) -> dict:
    return client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_a_doctor_corrects_a_family_reads_it_back_and_undoes_it(api_as, doctor_a, staff_a, analysed, openapi):  # noqa: F811
    api, staff = api_as(doctor_a), api_as(staff_a)
    families = staff.get(url(analysed, "beat-families"), {"page_size": 1000})
    assert families.status_code == 200, families.content
    rows = families.json()["results"]
    assert [r["number"] for r in rows] == list(
        BeatFamily.objects.filter(recording=analysed).values_list("number", flat=True)
    )
    for row in rows:
        strict_validator(openapi, "BeatFamily").validate(row)
    family = max(rows, key=lambda r: r["beats"])
    assert family["beats_corrected"] == 0 and len(family["template"]["leads"]) == 2
    assert family["example_position"] == analysed.beats.get(index=family["example"]).position
    was = family["aami_class"]
    to = "V" if was != "V" else "N"

    sent = {"to_class": to, "family": family["number"], "note": "wide, no P wave"}
    made = api.post(url(analysed), sent, format="json", HTTP_IDEMPOTENCY_KEY="family-1")
    assert made.status_code == 201, made.content
    body = made.json()
    strict_validator(openapi, "BeatCorrectionDetail").validate(body)
    assert (body["family"], body["to_class"], body["beats_changed"]) == (family["number"], to, family["beats"])
    assert body["previous"] == {was: family["beats"]} and len(body["beat_indices"]) == family["beats"]
    assert body["made_by"] == {"id": doctor_a.pk, "name": doctor_a.display_name} and body["undone_at"] is None
    replay = api.post(url(analysed), sent, format="json", HTTP_IDEMPOTENCY_KEY="family-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == body
    assert BeatCorrection.objects.count() == 1

    # the counts follow at once; the rhythm says it is being recomputed
    diagnosis = staff.get(detail(analysed)).json()["diagnosis"]
    assert diagnosis["beats_corrected"] == family["beats"] and diagnosis["rhythm_status"] == "recomputing"
    assert diagnosis["classes"][to]["count"] == getattr(
        Diagnosis.objects.get(recording=analysed), f"count_{to.lower()}"
    )
    (again,) = [
        r
        for r in staff.get(url(analysed, "beat-families"), {"page_size": 1000}).json()["results"]
        if r["number"] == family["number"]
    ]
    assert again["beats_corrected"] == family["beats"]
    beats = staff.get(url(analysed, "beats"), {"family": family["number"], "page_size": 1000}).json()
    assert beats["count"] == family["beats"]
    assert {(b["aami_class"], b["corrected_from"], b["family"]) for b in beats["results"]} == {
        (to, was, family["number"])
    }

    # listed without its indices; the single resource has them
    (listed,) = staff.get(url(analysed)).json()["results"]
    strict_validator(openapi, "BeatCorrection").validate(listed)
    assert "beat_indices" not in listed and listed == {k: v for k, v in body.items() if k != "beat_indices"}
    assert staff.get(f"{url(analysed)}/{body['id']}").json() == body

    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    assert staff.get(detail(analysed)).json()["diagnosis"]["rhythm_status"] == "current"

    assert staff.delete(f"{url(analysed)}/{body['id']}").status_code == 403  # staff read, doctors undo
    assert api.delete(f"{url(analysed)}/{body['id']}").status_code == 204
    diagnosis = staff.get(detail(analysed)).json()["diagnosis"]
    assert diagnosis["beats_corrected"] == 0 and diagnosis["rhythm_status"] == "recomputing"
    gone = api.delete(f"{url(analysed)}/{body['id']}")
    assert gone.status_code == 404 and "undone at " in gone.json()["error"]["message"]
    (undone,) = staff.get(url(analysed), {"undone": "true"}).json()["results"]
    assert undone["undone_by"]["id"] == doctor_a.pk and undone["undone_at"]
    assert staff.get(url(analysed), {"undone": "false"}).json()["results"] == []

    # a recomputation that failed says why
    corrections.rhythm_recompute_failed(recording_id=analysed.pk, reason="The signal could not be read again.")
    diagnosis = staff.get(detail(analysed)).json()["diagnosis"]
    assert (diagnosis["rhythm_status"], diagnosis["rhythm_recompute_error"]) == (
        "failed",
        "The signal could not be read again.",
    )


def test_beats_chosen_are_corrected_and_each_refusal_names_its_field(api_as, doctor_a, staff_a, done_recording):
    api = api_as(doctor_a)
    # the hand-made classes: N N V S F Q
    made = api.post(url(done_recording), {"to_class": "V", "beats": [0, 1, 2]}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["previous"] == {"N": 2} and made.json()["beat_indices"] == [0, 1]
    recording = api.get(detail(done_recording)).json()
    assert recording["diagnosis"]["classes"]["V"]["count"] == 3 and recording["diagnosis"]["beats_corrected"] == 2
    assert recording["diagnosis"]["rhythm_status"] is None  # a beat file: no rhythm to recompute
    assert recording["links"]["beat_corrections"].endswith(url(done_recording))
    (first, *_rest) = api.get(url(done_recording, "beats")).json()["results"]
    assert (first["aami_class"], first["corrected_from"], first["family"]) == ("V", "N", None)

    cases = [
        ({"to_class": "X", "beats": [3]}, 400, "to_class"),
        ({"to_class": "V", "beats": [3], "family": 0}, 400, "family"),
        ({"to_class": "V"}, 400, "family"),
        ({"to_class": "V", "beats": ["3"]}, 400, "beats"),
        ({"to_class": "V", "beats": [3, 3]}, 400, "beats"),
        ({"to_class": "V", "beats": [99]}, 400, "beats"),
        ({"to_class": "V", "beats": [3], "notes": "x"}, 400, "notes"),
        ({"to_class": "V", "beats": [3], "note": "a\x07b"}, 400, "note"),
        ({"to_class": "V", "family": 4}, 404, "family"),  # a beat file has no families
    ]
    for body, status, field in cases:
        refused = api.post(url(done_recording), body, format="json")
        assert (refused.status_code, refused.json()["error"].get("field")) == (status, field), body
    unchanged = api.post(url(done_recording), {"to_class": "V", "beats": [0, 2]}, format="json")
    assert unchanged.status_code == 409 and unchanged.json()["error"]["code"] == "unchanged"
    form = api.post(url(done_recording), {"to_class": "V", "beats": "3"})
    assert form.status_code == 415
    assert api_as(staff_a).post(url(done_recording), {"to_class": "V", "beats": [3]}, format="json").status_code == 403
    assert BeatCorrection.objects.count() == 1


def test_a_recording_not_analysed_is_409_and_another_clinics_404(
    api_as, doctor_a, doctor_b, staff_a, patient_a, done_recording
):
    queued = submit_beats(staff_a, patient_a)
    refused = api_as(doctor_a).post(url(queued), {"to_class": "V", "beats": [0]}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_analysed"
    assert api_as(doctor_a).get(url(queued, "beat-families")).json()["error"]["code"] == "not_ready"
    other = api_as(doctor_b)
    assert other.post(url(done_recording), {"to_class": "V", "beats": [0]}, format="json").status_code == 404
    assert other.get(url(done_recording)).status_code == 404


def test_only_the_latest_correction_is_undone_and_a_stale_if_match_is_412(api_as, doctor_a, done_recording):
    api = api_as(doctor_a)
    first = api.post(url(done_recording), {"to_class": "S", "beats": [0]}, format="json").json()
    tag = api.get(detail(done_recording))["ETag"]
    stale = api.post(url(done_recording), {"to_class": "S", "beats": [1]}, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412 and BeatCorrection.objects.count() == 1
    second = api.post(url(done_recording), {"to_class": "S", "beats": [1]}, format="json", HTTP_IF_MATCH=tag)
    assert second.status_code == 201
    refused = api.delete(f"{url(done_recording)}/{first['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "later_correction"
    assert "(1 beat to S)" in refused.json()["error"]["message"]  # not "1 beats"
    changed = api.delete(f"{url(done_recording)}/{second.json()['id']}", HTTP_IF_MATCH=tag)  # read before the second
    assert changed.status_code == 412
    assert api.delete(f"{url(done_recording)}/{second.json()['id']}").status_code == 204
    assert api.delete(f"{url(done_recording)}/{first['id']}").status_code == 204
    assert [c["id"] for c in api.get(url(done_recording)).json()["results"]] == [second.json()["id"], first["id"]]


def test_the_list_reads_no_correction_s_indices(api_as, doctor_a, done_recording, django_assert_max_num_queries):
    for index in range(5):
        corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="Q", beats=[index])
    api = api_as(doctor_a)
    with django_assert_max_num_queries(12):
        listed = api.get(url(done_recording)).json()["results"]
    assert [c["beats_changed"] for c in listed] == [1] * 5 and "beat_indices" not in listed[0]
    assert listed[-1]["previous"] == {"N": 1}


def test_the_beats_of_a_family_the_recording_has_not_are_refused(api_as, staff_a, done_recording):
    refused = api_as(staff_a).get(url(done_recording, "beats"), {"family": 3})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "family"
    families = api_as(staff_a).get(url(done_recording, "beat-families"))
    assert families.status_code == 200 and families.json()["results"] == []


def test_too_many_beats_are_refused_before_each_is_read(api_as, doctor_a, done_recording):
    """A list past the limit is refused by its length: its items are not validated one by one, nor named in the
    answer (a body of millions of bad indices had taken minutes and answered with hundreds of megabytes)."""
    refused = api_as(doctor_a).post(url(done_recording), {"to_class": "V", "beats": [-1] * 5000}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "beats"
    assert "at most 1,000" in refused.json()["error"]["message"] and len(refused.content) < 2000
    assert not BeatCorrection.objects.exists()


def test_an_undo_retried_with_its_idempotency_key_is_answered_as_the_first_time(api_as, doctor_a, done_recording):
    # a DELETE whose 204 was lost on the way: its retry had been 404 "undone at …", as a diary entry's removal had been
    from diagnostics.models import Beat

    api = api_as(doctor_a)
    made = api.post(url(done_recording), {"to_class": "S", "beats": [0]}, format="json").json()
    tag = api.get(detail(done_recording))["ETag"]
    first = api.delete(f"{url(done_recording)}/{made['id']}", HTTP_IDEMPOTENCY_KEY="undo-1", HTTP_IF_MATCH=tag)
    assert first.status_code == 204 and "Idempotent-Replayed" not in first
    undone_at = BeatCorrection.objects.get().undone_at
    classes = list(Beat.objects.filter(recording=done_recording).order_by("index").values_list("aami_class", flat=True))
    retry = api.delete(f"{url(done_recording)}/{made['id']}", HTTP_IDEMPOTENCY_KEY="undo-1", HTTP_IF_MATCH=tag)
    assert retry.status_code == 204 and retry["Idempotent-Replayed"] == "true"
    # nothing done again
    assert BeatCorrection.objects.get().undone_at == undone_at
    assert (
        list(Beat.objects.filter(recording=done_recording).order_by("index").values_list("aami_class", flat=True))
        == classes
    )
    # without the key, or with another: undone already, said as before
    for again in (
        api.delete(f"{url(done_recording)}/{made['id']}"),
        api.delete(f"{url(done_recording)}/{made['id']}", HTTP_IDEMPOTENCY_KEY="undo-2"),
    ):
        assert again.status_code == 404 and "undone at " in again.json()["error"]["message"], again.content


def test_a_correction_its_undoing_and_the_rhythm_after_them_move_last_modified(api_as, doctor_a, analysed):  # noqa: F811
    """The diagnosis's Last-Modified had stayed its making's (or its latest review's) while a correction changed its
    counts and rhythm: its ETag moved, its Last-Modified did not, and an If-Unmodified-Since held to it let a write
    through over a change it had not seen. The recording's moves as well (its updated_at)."""
    api = api_as(doctor_a)
    diagnosis = Diagnosis.objects.get(recording=analysed)
    long_ago = timezone.now() - timedelta(hours=1)

    def dated_long_ago():
        Diagnosis.objects.filter(pk=diagnosis.pk).update(created_at=long_ago, changed_at=None)
        ECGRecording.objects.filter(pk=analysed.pk).update(updated_at=long_ago)

    def last_modified() -> tuple[int, int]:
        return (
            parse_http_date(api.get(f"/api/v1/diagnoses/{diagnosis.pk}")["Last-Modified"]),
            parse_http_date(api.get(detail(analysed))["Last-Modified"]),
        )

    dated_long_ago()
    before = last_modified()
    assert before == (int(long_ago.timestamp()),) * 2
    n = analysed.beats.filter(aami_class="N").order_by("index").first().index
    made = api.post(url(analysed), {"to_class": "S", "beats": [n]}, format="json")
    assert made.status_code == 201
    assert all(now > then for now, then in zip(last_modified(), before, strict=True))
    since = api.get(f"/api/v1/diagnoses/{diagnosis.pk}", HTTP_IF_MODIFIED_SINCE=http_date(before[0]))
    assert since.status_code == 200 and since.json()["beats_corrected"] == 1

    for change in (
        lambda: corrections.recording_rhythm_recompute(recording_id=analysed.pk),
        lambda: api.delete(f"{url(analysed)}/{made.json()['id']}"),
        lambda: corrections.rhythm_recompute_failed(recording_id=analysed.pk, reason="The signal could not be read."),
    ):
        dated_long_ago()
        change()
        assert all(now > then for now, then in zip(last_modified(), before, strict=True))


def test_the_families_count_their_corrected_beats_with_the_page_s_own_query(
    api_as, doctor_a, done_recording, django_assert_num_queries
):
    """Each family's ``beats_corrected`` and its example's sample are read with the page's families, in the
    database: every page had read the whole recording's beats grouped by family and class (a day's recording's
    100,000 beats for a page of one family), and the examples' samples in a query of their own."""
    from diagnostics.models import Beat

    # the hand-made classes: N N V S F Q; two families of the analysis's N and V beats
    template = {"fs": 128.0, "r_s": 0.3, "leads": [[0.0, 1.0]]}
    BeatFamily.objects.bulk_create(
        [
            BeatFamily(recording=done_recording, number=0, aami_class="N", beats=2, example=1, template=template),
            BeatFamily(recording=done_recording, number=1, aami_class="V", beats=1, example=2, template=template),
        ]
    )
    Beat.objects.filter(recording=done_recording, index__in=[0, 1]).update(family=0)
    Beat.objects.filter(recording=done_recording, index=2).update(family=1)
    for index, position in ((1, 100), (2, 250)):
        Beat.objects.filter(recording=done_recording, index=index).update(position=position)
    corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="S", beats=[0])
    api = api_as(doctor_a)
    api.get(url(done_recording, "beat-families"))  # the token's user looked up once, then cached
    # the recording and its diagnosis (is it done?), the pager's count, the page, and the read's audit record
    with django_assert_num_queries(5):
        first = api.get(url(done_recording, "beat-families"), {"page_size": 1}).json()
    second = api.get(url(done_recording, "beat-families"), {"page_size": 1, "page": 2}).json()
    assert [(f["number"], f["beats_corrected"], f["example_position"]) for f in first["results"]] == [(0, 1, 100)]
    assert [(f["number"], f["beats_corrected"], f["example_position"]) for f in second["results"]] == [(1, 0, 250)]


def test_a_family_s_template_names_the_leads_it_was_drawn_from_and_an_older_one_none(
    api_as, staff_a, done_recording, openapi
):
    """The analysis stores the names of the leads each mean beat is drawn in (the analysed lead, then the second it
    took, not always the file's next); families stored before it did have none, and the API does not guess them."""
    named = {"fs": 128.0, "r_s": 0.3, "leads": [[0.0, 1.0], [0.0, 0.5]], "lead_names": ["MLII", "V1"]}
    older = {"fs": 128.0, "r_s": 0.3, "leads": [[0.0, 1.0], [0.0, 0.5]]}
    BeatFamily.objects.bulk_create(
        [
            BeatFamily(recording=done_recording, number=0, aami_class="N", beats=2, example=0, template=named),
            BeatFamily(recording=done_recording, number=1, aami_class="V", beats=1, example=2, template=older),
        ]
    )
    rows = api_as(staff_a).get(url(done_recording, "beat-families")).json()["results"]
    for row in rows:
        strict_validator(openapi, "BeatFamily").validate(row)
    assert [r["template"]["lead_names"] for r in rows] == [["MLII", "V1"], None]
    assert rows[1]["template"]["leads"] == older["leads"]


def test_the_analysis_stores_and_the_api_gives_each_family_s_lead_names(api_as, staff_a, analysed):  # noqa: F811
    rows = api_as(staff_a).get(url(analysed, "beat-families"), {"page_size": 1000}).json()["results"]
    assert rows
    for row in rows:
        names = row["template"]["lead_names"]
        assert names is not None and len(names) == len(row["template"]["leads"])
        assert names[0] == analysed.lead


def test_the_migration_dates_a_diagnosis_corrected_before_it_by_its_latest_change(
    doctor_a, staff_a, patient_a, active_models, done_recording
):
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = import_module("diagnostics.migrations.0026_diagnosis_changed_at")
    never = submit_beats(staff_a, patient_a)
    classify_by_hand(never, active_models)
    corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="S", beats=[0])
    second = corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="S", beats=[1])
    corrections.beat_correction_undo(correction=second, by=doctor_a)
    at_migration = MigrationExecutor(connection).loader.project_state(("diagnostics", "0026_diagnosis_changed_at")).apps

    def filled() -> dict:
        Diagnosis.objects.update(changed_at=None)  # as the new column was added
        migration.corrected_at(at_migration, None)
        return dict(Diagnosis.objects.values_list("recording_id", "changed_at"))

    assert filled() == {done_recording.pk: BeatCorrection.objects.get(pk=second.pk).undone_at, never.pk: None}
    recomputed = timezone.now() + timedelta(minutes=1)
    Diagnosis.objects.filter(recording=done_recording).update(rhythm_recomputed_at=recomputed)
    assert filled()[done_recording.pk] == recomputed


def test_a_withdrawn_events_times_are_written_as_every_other_time_of_the_api():
    # kept as ISO strings in a JSON field, they had gone out as "+00:00" where every other time of the API reads "Z"
    from api.serializers import WithdrawnEventSerializer

    out = WithdrawnEventSerializer(
        {
            "type": "v_run",
            "start": 1,
            "end": 2,
            "beats": 3,
            "decisions": [
                {"decision": "reject", "reviewer": "d", "note": "", "at": "2026-12-07T13:00:00.123456+00:00"}
            ],
            "withdrawn_at": "2026-12-07T13:05:00+00:00",
        }
    ).data
    assert (out["withdrawn_at"], out["decisions"][0]["at"]) == ("2026-12-07T13:05:00Z", "2026-12-07T13:00:00.123456Z")
    assert WithdrawnEventSerializer({**out, "withdrawn_at": None}).data["withdrawn_at"] is None  # before it was kept
