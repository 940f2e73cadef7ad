import pytest
from django.urls import reverse

from diagnostics import ingestion, services

from ..conftest import client_for
from ..helpers import beat_csv


@pytest.fixture
def done_recording(staff_a, patient_a, active_models):
    data = beat_csv(120)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    recording = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename="b.csv")
    services.recording_classify(recording_id=recording.pk, claim_token="t")
    recording.refresh_from_db()
    return recording


@pytest.mark.django_db
def test_the_recording_page_shows_counts_mi_and_versions(client, staff_a, done_recording):
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[done_recording.pk])).content.decode()
    d = done_recording.diagnosis
    for c, n, pct in d.class_counts():
        assert f'<span class="cls cls-{c}">{c}</span></th><td>{n}</td><td>{pct:.1f} %' in page
    assert "MI score <strong>0.881</strong> against threshold 0.500" in page
    assert "heartbeat tiny-1, MI tiny-high" in page
    assert "Beats 1–50 of 120" in page


@pytest.mark.django_db
def test_the_beat_table_pages_and_plots_a_beat(client, staff_a, done_recording):
    client_for(client, staff_a)
    fragment = client.get(reverse("recording-beats", args=[done_recording.pk]), {"page": 3}).content.decode()
    assert "Beats 101–120 of 120" in fragment and "Plot beat 101" in fragment
    plot = client.get(reverse("beat-plot", args=[done_recording.pk, 104])).content.decode()
    assert "<polyline" in plot and "Beat 105" in plot
    assert client.get(reverse("beat-plot", args=[done_recording.pk, 500])).status_code == 404


@pytest.mark.django_db
def test_the_status_fragment_polls_while_queued_and_reloads_when_done(client, staff_a, patient_a):
    data = beat_csv(2)
    recording = services.recording_submit(
        user=staff_a, patient=patient_a, parsed=ingestion.parse_beats(filename="b.csv", data=data), data=data, filename="b.csv"
    )
    client_for(client, staff_a)
    fragment = client.get(reverse("recording-status", args=[recording.pk]))
    assert 'hx-trigger="every 2s"' in fragment.content.decode() and "HX-Refresh" not in fragment
    recording.status = "done"
    recording.save()
    fragment = client.get(reverse("recording-status", args=[recording.pk]), {"was": "queued"})
    assert fragment["HX-Refresh"] == "true" and "every 2s" not in fragment.content.decode()


@pytest.mark.django_db
def test_the_dashboard_lists_pending_and_flagged_cases(client, doctor_a, done_recording):
    page = client_for(client, doctor_a).get(reverse("dashboard")).content.decode()
    assert "Flagged MI awaiting review" in page and done_recording.patient.display_name in page
