"""The recording's start as DICOM ECG waveforms and HL7 aECG documents state it, with their UTC offsets, and
files whose stated start is partial or malformed."""

import copy
import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ecg.datasets.carts import STANDARD_LEADS, synthetic_twelve_lead
from ecg.io.readers import read_aecg, read_dicom
from ecg.io.start_time import aecg_start, dicom_start, stamp_start, utc_offset

from ..helpers import aecg_stating, dicom_stating

FS = 500.0
UTC = timezone.utc


def at(hours: int, minutes: int = 0) -> timezone:
    sign = -1 if hours < 0 else 1
    return timezone(sign * timedelta(hours=abs(hours), minutes=minutes))


@pytest.fixture(scope="module")
def leads():
    return synthetic_twelve_lead(seconds=10.0, fs=FS)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("20261204235010", datetime(2026, 12, 4, 23, 50, 10)),
        ("20261204235010.25", datetime(2026, 12, 4, 23, 50, 10, 250_000)),
        ("20261204235010.123456", datetime(2026, 12, 4, 23, 50, 10, 123_456)),
        ("20261204235010.1234567", datetime(2026, 12, 4, 23, 50, 10, 123_456)),  # HL7: more digits than µs
        ("202612042350", datetime(2026, 12, 4, 23, 50)),
        ("2026120423", datetime(2026, 12, 4, 23)),
        ("20261204235010 ", datetime(2026, 12, 4, 23, 50, 10)),  # DICOM's padding
        ("20261204235010+0100", datetime(2026, 12, 4, 23, 50, 10, tzinfo=at(1))),
        ("20261204235010.5-0430", datetime(2026, 12, 4, 23, 50, 10, 500_000, tzinfo=at(-4, 30))),
        ("202612042350-0000", datetime(2026, 12, 4, 23, 50, tzinfo=UTC)),
        ("20261204", None),  # a date without a time of day
        ("20261204+0100", None),
        ("202612", None),
        ("2026", None),
        ("", None),
        ("20260230120000", None),  # 30 February
        ("20261204245010", None),
        ("20261204236010", None),
        ("202612041250.5", None),  # a fraction of a minute
        ("20261204235010+2500", None),
        ("20261204235010+0160", None),
        ("20261204235010-1300", None),
        ("20261204235010+01", None),
        ("2026-12-04T23:50:10", None),
        ("today", None),
    ],
)
def test_a_dicom_dt_or_hl7_ts_names_a_start_only_to_the_hour_or_finer(text, start):
    assert stamp_start(text) == start
    if start is not None:
        assert (start.tzinfo is None) == (text.strip()[-5:-4] not in "+-")


def test_a_utc_offset_is_within_the_worlds_clocks():
    assert utc_offset("+1400") == at(14) and utc_offset("-1200") == at(-12) and utc_offset("+0545") == at(5, 45)
    assert [utc_offset(t) for t in ("+1401", "-1201", "0100", "+1", "+01:00", "")] == [None] * 6


@pytest.mark.parametrize(
    ("attributes", "start"),
    [
        (  # AcquisitionDateTime first
            {"AcquisitionDateTime": "20261204101500", "AcquisitionDate": "20261203", "AcquisitionTime": "090000"},
            datetime(2026, 12, 4, 10, 15),
        ),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "101500.5"}, datetime(2026, 12, 4, 10, 15, 0, 500_000)),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "1015"}, datetime(2026, 12, 4, 10, 15)),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "10"}, datetime(2026, 12, 4, 10)),
        (  # the acquisition before the content
            {"AcquisitionDate": "20261204", "AcquisitionTime": "101500", "ContentDate": "20261205"},
            datetime(2026, 12, 4, 10, 15),
        ),
        ({"ContentDate": "20261204", "ContentTime": "101500"}, datetime(2026, 12, 4, 10, 15)),
        (  # an empty value is one not stated
            {"AcquisitionDateTime": "", "ContentDate": "20261204", "ContentTime": "101500"},
            datetime(2026, 12, 4, 10, 15),
        ),
        ({"AcquisitionDateTime": "20261204101500+0100"}, datetime(2026, 12, 4, 10, 15, tzinfo=at(1))),
        (
            {"AcquisitionDate": "20261204", "AcquisitionTime": "101500", "TimezoneOffsetFromUTC": "-0500"},
            datetime(2026, 12, 4, 10, 15, tzinfo=at(-5)),
        ),
        (
            {"ContentDate": "20261204", "ContentTime": "101500", "TimezoneOffsetFromUTC": "+0000"},
            datetime(2026, 12, 4, 10, 15, tzinfo=UTC),
        ),
        (  # a DT's own offset before the file's
            {"AcquisitionDateTime": "20261204101500+0100", "TimezoneOffsetFromUTC": "-0500"},
            datetime(2026, 12, 4, 10, 15, tzinfo=at(1)),
        ),
        (  # the file's offset, unused, may be malformed
            {"AcquisitionDateTime": "20261204101500+0100", "TimezoneOffsetFromUTC": "nowhere"},
            datetime(2026, 12, 4, 10, 15, tzinfo=at(1)),
        ),
        ({"AcquisitionDateTime": "20261204101500", "TimezoneOffsetFromUTC": "nowhere"}, None),
        ({"AcquisitionDateTime": "20261204101500", "TimezoneOffsetFromUTC": ""}, datetime(2026, 12, 4, 10, 15)),
        ({}, None),
        ({"TimezoneOffsetFromUTC": "+0100"}, None),
        # partial or malformed: unknown, and no later source is taken instead
        ({"AcquisitionDateTime": "20261204", "ContentDate": "20261204", "ContentTime": "101500"}, None),
        ({"AcquisitionDate": "20261204", "ContentDate": "20261204", "ContentTime": "101500"}, None),
        ({"AcquisitionTime": "101500", "ContentDate": "20261204", "ContentTime": "101500"}, None),
        ({"AcquisitionDate": "20261231", "AcquisitionTime": "2500"}, None),
        ({"AcquisitionDate": "20260230", "AcquisitionTime": "101500"}, None),
        ({"AcquisitionDate": "202612", "AcquisitionTime": "0410"}, None),  # not read as 4 December 10:00
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "101500+0100"}, None),  # TM states no offset
        # the forms before version 3.0, which PS3.5 6.2 recommends a reader accepts
        ({"AcquisitionDate": "2026.12.04", "AcquisitionTime": "10:15:00"}, datetime(2026, 12, 4, 10, 15)),
        (
            {"AcquisitionDate": "2026.12.04", "AcquisitionTime": "10:15:00.25"},
            datetime(2026, 12, 4, 10, 15, 0, 250_000),
        ),
        ({"AcquisitionDate": "2026.12.04", "AcquisitionTime": "10:15"}, datetime(2026, 12, 4, 10, 15)),
        ({"ContentDate": "2026.12.04", "ContentTime": "101500"}, datetime(2026, 12, 4, 10, 15)),
        ({"AcquisitionDate": "2026.12.4", "AcquisitionTime": "10:15:00"}, None),
        ({"AcquisitionDate": "2026-12-04", "AcquisitionTime": "10:15:00"}, None),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "10:1500"}, None),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "10:15:00:00"}, None),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "101500.1234567"}, None),
        ({"AcquisitionDateTime": ["20261204101500", "20261204111500"]}, None),  # several values
        ({"AcquisitionDateTime": "garbage"}, None),
    ],
)
def test_a_dicom_ecg_states_its_start_by_acquisition_then_content_date_and_time(attributes, start):
    assert dicom_start(attributes) == start


@pytest.mark.parametrize(
    "attributes, offset, start",
    [
        ({"AcquisitionDateTime": "20261204101500"}, "1500", datetime(2026, 12, 4, 10, 15, 1, 500_000)),
        ({"AcquisitionDateTime": "20261204101500"}, " -250.5 ", datetime(2026, 12, 4, 10, 14, 59, 749_500)),
        ({"AcquisitionDate": "20261204", "AcquisitionTime": "235959"}, 2000.0, datetime(2026, 12, 5, 0, 0, 1)),
        ({"AcquisitionDateTime": "20261204101500"}, "", datetime(2026, 12, 4, 10, 15)),
        ({"AcquisitionDateTime": "20261204101500"}, None, datetime(2026, 12, 4, 10, 15)),
        # a content date and time is when the file was written: no reference of the group's offset
        ({"ContentDate": "20261204", "ContentTime": "101500"}, "1500", datetime(2026, 12, 4, 10, 15)),
        ({"AcquisitionDateTime": "20261204101500"}, "soon", None),
        ({"AcquisitionDateTime": "20261204101500"}, "nan", None),
        ({"AcquisitionDateTime": "20261204101500"}, "1e30", None),
        ({"AcquisitionDateTime": "20261204101500"}, "86400001", None),
        ({"AcquisitionDateTime": "99991231235959"}, "1000", None),  # past the calendar's last day
    ],
)
def test_a_dicom_ecg_start_is_moved_by_its_waveform_groups_time_offset(attributes, offset, start):
    assert dicom_start(attributes, offset=offset) == start


def test_a_dicom_ecg_read_starts_at_its_waveform_groups_offset(leads):
    import pydicom

    data = dicom_stating(leads, FS, AcquisitionDateTime="20261204101500")
    ds = pydicom.dcmread(io.BytesIO(data))
    (group,) = ds.WaveformSequence
    group.MultiplexGroupTimeOffset = "2500"
    # a shorter group (a rhythm strip's first second, say) with an offset of its own: not the one read
    short = copy.deepcopy(group)
    channels, samples = int(short.NumberOfWaveformChannels), int(short.NumberOfWaveformSamples)
    kept = samples // 4
    width = len(short.WaveformData) // (channels * samples)
    short.NumberOfWaveformSamples = kept
    short.WaveformData = short.WaveformData[: kept * channels * width]
    short.MultiplexGroupTimeOffset = "9000"
    ds.WaveformSequence = [short, group]
    out = io.BytesIO()
    ds.save_as(out)
    signal = read_dicom(out.getvalue())
    assert signal.start == datetime(2026, 12, 4, 10, 15, 2, 500_000)
    assert len(next(iter(signal.leads.values()))) == samples  # the longest group, whose offset it is


@pytest.mark.parametrize(
    ("series", "document", "start"),
    [
        ("20261204101500", "20261203090000", datetime(2026, 12, 4, 10, 15)),
        (None, "20261203090000.5", datetime(2026, 12, 3, 9, 0, 0, 500_000)),
        ("", "20261203090000", datetime(2026, 12, 3, 9)),
        ("20261204101500-0700", None, datetime(2026, 12, 4, 10, 15, tzinfo=at(-7))),
        ("20261204", "20261203090000", None),  # the series' own, partial: not the document's instead
        ("garbage", "20261203090000", None),
        (None, None, None),
    ],
)
def test_an_aecg_states_its_series_start_else_its_documents(series, document, start):
    assert aecg_start(series, document) == start


def test_a_dicom_ecg_read_keeps_the_start_it_states(leads):
    dated = dicom_stating(leads, FS, AcquisitionDateTime="20261204235955.5", ContentDate="20261205")
    assert read_dicom(dated).start == datetime(2026, 12, 4, 23, 59, 55, 500_000)
    paired = dicom_stating(
        leads, FS, AcquisitionDate="20261204", AcquisitionTime="235955", TimezoneOffsetFromUTC="+0530"
    )
    assert read_dicom(paired).start == datetime(2026, 12, 4, 23, 59, 55, tzinfo=at(5, 30))
    assert read_dicom(dicom_stating(leads, FS)).start is None  # the builder states no date


@pytest.mark.parametrize(
    "attributes",
    [
        {"AcquisitionDateTime": "20261304101500"},
        {"AcquisitionDateTime": "20261204"},
        {"AcquisitionDate": "20261204", "AcquisitionTime": "xx"},
        {"ContentDate": "20261204", "ContentTime": "101500", "TimezoneOffsetFromUTC": "+99"},
        {"AcquisitionDateTime": "20261204101500\\20261204111500"},
    ],
)
def test_a_dicom_ecg_with_a_malformed_or_partial_start_is_read_without_one(leads, attributes):
    signal = read_dicom(dicom_stating(leads, FS, **attributes))
    assert signal.start is None
    assert signal.lead_order == list(STANDARD_LEADS)
    assert np.abs(signal.leads["V5"] - leads["V5"]).max() < 0.002


def test_a_dicom_date_that_cannot_be_decoded_leaves_the_start_unknown(leads, monkeypatch):
    import pydicom.dataset

    real_get = pydicom.dataset.Dataset.get

    def damaged(self, key, default=None):
        if key == "AcquisitionDateTime":
            raise ValueError("damaged value")
        return real_get(self, key, default)

    monkeypatch.setattr(pydicom.dataset.Dataset, "get", damaged)
    signal = read_dicom(dicom_stating(leads, FS, AcquisitionDateTime="20261204101500"))
    assert signal.start is None and signal.lead_order == list(STANDARD_LEADS)


def test_an_aecg_read_keeps_the_start_its_series_or_document_states(leads):
    assert read_aecg(aecg_stating(leads, FS, "20261204101500+0100", "20261203")).start == datetime(
        2026, 12, 4, 10, 15, tzinfo=at(1)
    )
    assert read_aecg(aecg_stating(leads, FS, None, "20261203090000")).start == datetime(2026, 12, 3, 9)


@pytest.mark.parametrize(("series", "document"), [("20261204", "20261203090000"), ("x", None), (None, None)])
def test_an_aecg_with_a_malformed_partial_or_no_start_is_read_without_one(leads, series, document):
    signal = read_aecg(aecg_stating(leads, FS, series, document))
    assert signal.start is None
    assert np.abs(signal.leads["V5"] - leads["V5"]).max() < 0.003
