"""The printed Holter report in a real Chromium: a few dense pages, as a signed Holter report is.

Page 1 holds the header, the summary and the heart-rate trend; the hourly table, the event strips and the beat
details follow without forced page breaks (the report of MIT-BIH 203, 30 minutes, had printed on 6 mostly empty
pages at A4 and at Letter).
"""

import re

import pytest

from diagnostics import services
from diagnostics.models import ECGRecording

from ..data import mitdb_dir
from .conftest import log_in
from .test_clinic_flow import analysed
from .test_holter import shipped_heartbeat_model  # noqa: F401  (a fixture, used by name)

pytestmark = [pytest.mark.worker, pytest.mark.slow]

# as the print dialog offers them: portrait first, and landscape (the report had forced it on every paper)
PAPERS = (("A4", False), ("Letter", False), ("A4", True), ("Letter", True))
RUNNING_LINE = "· MRN "
PRELIMINARY = "PRELIMINARY – not interpreted by a doctor"
# A long interpretation, 3,990 characters in 42 lines: its section had been kept whole (break-inside: avoid), which
# moved it to page 2 and left page 1 all but blank under the report's header.
LONG_INTERPRETATION = "\n".join(
    f"{i:02d}. Sinus rhythm with frequent ventricular ectopics, couplets and a short run; review the strip at {i}:00."
    for i in range(1, 43)
)[:3990]
MARGIN_PT = 12 / 25.4 * 72  # the @page margin


def _printed(page, path, paper: str, landscape: bool) -> list[tuple[str, float]]:
    """The report printed by Chromium on ``paper`` as the print dialog would (the page's own @page margins): per
    page, its text (lines as they wrap, joined) and how far down the page its content reaches, as a share of the
    height from the top margin to the running line at the foot."""
    from pypdf import PdfReader

    page.pdf(path=str(path), format=paper, landscape=landscape, print_background=True)
    printed = []
    for pdf_page in PdfReader(str(path)).pages:
        chunks: list[tuple[float, str]] = []  # (height above the paper's foot, text)

        def text(chunk, cm, tm, font, size, chunks=chunks):
            if chunk.strip():  # the text matrix, then the transformation: the y of the result
                chunks.append((tm[4] * cm[1] + tm[5] * cm[3] + cm[5], chunk))

        content = pdf_page.extract_text(visitor_text=text)
        top = float(pdf_page.mediabox.height) - MARGIN_PT
        foot = max((y for y, chunk in chunks if RUNNING_LINE in chunk), default=0.0)
        lowest = min((y for y, _ in chunks if y > foot + 4), default=top)
        printed.append((" ".join(content.split()), (top - lowest) / (top - foot)))
    return printed


def _assert_dense(printed: list[tuple[str, float]], *, at_most: int, where) -> None:
    pages = [text for text, _ in printed]
    assert 2 <= len(pages) <= at_most, (where, len(pages))
    first = pages[0]
    for heading in ("ECG report", "Holter summary", "Mean heart rate", "Ventricular ectopy", "Heart rate per minute"):
        assert heading in first, (where, heading)
    assert "lowest to highest rate over 4 beats" in first, where  # the trend's caption: the chart is there too
    # no near-empty page: each but the last is filled at least 60 % of the way down (sections had each begun a
    # new page, leaving half of the one before blank)
    for number, (_, filled) in enumerate(printed[:-1], 1):
        assert filled > 0.6, (where, number, round(filled, 2))
    for number, text in enumerate(pages, 1):
        assert RUNNING_LINE in text and f"Page {number} of {len(pages)}" in text, (where, number)
    assert "Printed " in pages[-1], where


def _as_if_24_hours(recording: ECGRecording) -> None:
    """The stored summary stretched to a day: 24 rows in the hourly table, 1,440 minutes of trend."""
    diagnosis = recording.diagnosis
    rhythm = diagnosis.rhythm
    rhythm["hourly"] = [{**rhythm["hourly"][0], "hour": hour} for hour in range(24)]
    trend = rhythm["trend"]
    n = len(trend["minute"])
    rhythm["trend"] = {key: [values[i % n] for i in range(1440)] for key, values in trend.items()}
    rhythm["trend"]["minute"] = list(range(1440))
    diagnosis.save(update_fields=["rhythm"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_heartbeat_model")
def test_the_printed_holter_report_is_a_few_dense_pages_with_the_summary_and_trend_first(
    page, shot, patient_a, doctor_a, celery_worker
):
    mitdb = mitdb_dir()
    log_in(page, "doctor_a")
    recording = analysed(page, patient_a, [mitdb / "203.hea", mitdb / "203.dat"])
    page.goto(f"/recordings/{recording.pk}/report/")
    significant = page.locator("figure.event-strip").count()
    assert significant >= 2
    shot(page, "50-holter-report-screen")
    for paper, landscape in PAPERS:
        where = ("30 min", paper, "landscape" if landscape else "portrait")
        pages = _printed(page, shot.dir / f"50-holter-report-{'-'.join(where[1:])}.pdf", paper, landscape)
        _assert_dense(pages, at_most=3, where=where)
        # every significant strip is printed (and the first 10 s); the page's Print button and log-out are not
        text = "".join(t for t, _ in pages)
        assert text.count("lead MLII · 25 mm/s") == significant + 1, where
        assert not re.search(r"\bPrint\b|Log out", text), where
        # unsigned: every page says so in its running line, not the first alone
        assert all(PRELIMINARY in t for t, _ in pages), where

    # A day's recording: its 24-row hourly table runs on after the trend, still a few pages.
    _as_if_24_hours(recording)
    beats = recording.diagnosis.rhythm["hourly"][-1]["beats"]
    page.reload()
    for paper, landscape in PAPERS:
        where = ("24 h", paper, "landscape" if landscape else "portrait")
        pages = _printed(page, shot.dir / f"51-holter-report-24h-{'-'.join(where[1:])}.pdf", paper, landscape)
        _assert_dense(pages, at_most=4, where=where)
        assert f" 23 {beats} " in "".join(t for t, _ in pages), where  # the last hour's row

    # Signed with a long interpretation: the text runs on from page 1 to page 2, its heading with its first lines
    # and the signature with its last; no page is left near empty, and no page says "preliminary" any more.
    services.interpretation_sign(user=doctor_a, recording=recording, text=LONG_INTERPRETATION)
    page.reload()
    first_line, last_words = LONG_INTERPRETATION.split("\n")[0], LONG_INTERPRETATION.split("\n")[-1][-30:]
    for paper, landscape in PAPERS:
        where = ("signed", paper, "landscape" if landscape else "portrait")
        pages = _printed(page, shot.dir / f"52-holter-report-signed-{'-'.join(where[1:])}.pdf", paper, landscape)
        texts = [t for t, _ in pages]
        assert 2 <= len(texts) <= 5, (where, len(texts))
        for number, (_, filled) in enumerate(pages[:-1], 1):
            assert filled > 0.6, (where, number, round(filled, 2))
        assert "ECG report" in texts[0] and "Interpretation" in texts[0], where
        assert first_line in texts[0] and "02. Sinus rhythm" in texts[0], where  # its first lines, under its heading
        signed = next(i for i, t in enumerate(texts) if "Electronically signed by doctor_a" in t)
        assert last_words in texts[signed], where  # the signature with the text's last lines
        assert not any(PRELIMINARY in t or "Preliminary" in t for t in texts), where
    shot(page, "52-holter-report-signed-screen")
    assert page.js_errors == []
