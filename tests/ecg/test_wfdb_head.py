"""Reading only the first samples of each lead of a long WFDB record (the FHIR export's bound) gives the very samples,
lost spans and waveform Observation that reading it whole and cutting it gave; where it might not (a lost run across
the cut, a data file cut short, several samples a frame), the record is read whole."""

import json
import shutil

import numpy as np
import pytest
import wfdb

from api import fhir
from ecg.io import readers

FS = 250
N = 3000


def _record(tmp_path, fmt: list[str], *, lost: list[tuple[int, int, int]] = (), name: str = "rec", spf=None):
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(0, 0.02, size=(N, len(fmt))), axis=0)
    for lead, start, end in lost:
        values[start:end, lead] = np.nan
    extra = {"samps_per_frame": spf} if spf else {}
    if spf:
        values = [np.repeat(values[:, i], k) for i, k in enumerate(spf)]
        wfdb.wrsamp(
            name,
            fs=FS,
            units=["mV"] * len(fmt),
            sig_name=[f"L{i}" for i in range(len(fmt))],
            e_p_signal=values,
            fmt=fmt,
            adc_gain=[20.0 if f == "80" else 200.0 for f in fmt],
            baseline=[0] * len(fmt),
            write_dir=str(tmp_path),
            **extra,
        )
    else:
        wfdb.wrsamp(
            name,
            fs=FS,
            units=["mV"] * len(fmt),
            sig_name=[f"L{i}" for i in range(len(fmt))],
            p_signal=values,
            fmt=fmt,
            adc_gain=[20.0 if f == "80" else 200.0 for f in fmt],
            baseline=[0] * len(fmt),
            write_dir=str(tmp_path),
        )
    return tmp_path / name


def _waveform(signal, settings, head: int) -> str:
    settings.API_FHIR_MAX_SAMPLES = head
    observation = fhir._waveform(
        recording=None, signal=signal, beats=None, subject="urn:x", effective={}, input_fs=125.0
    )
    return json.dumps(observation)


@pytest.mark.parametrize("fmt", [["16", "16"], ["212", "212"], ["16", "80"], ["16"]])
@pytest.mark.parametrize(
    "lost",
    [
        [],
        [(0, 100, 140), (0, 0, 5)],  # inside the part read, one at the very start
        [(1, 900, 2500)],  # starts inside, ends beyond: cut across
        [(0, 1200, 2999)],  # from inside to the end
        [(0, 1400, 3000)],  # beyond the part read
    ],
)
def test_the_head_is_the_whole_record_cut(tmp_path, settings, fmt, lost):
    lost = [span for span in lost if span[0] < len(fmt)]
    path = _record(tmp_path, fmt, lost=lost)
    head = 2000  # 1000 samples a lead of two, 2000 of one
    whole = readers.read_wfdb(path)
    part = readers.read_wfdb(path, head=head)
    share = head // len(fmt)
    assert part.lead_order == whole.lead_order and part.units == whole.units and part.fs == whole.fs
    cut_across = any(np.isnan(whole.leads[name][share - 1]) for name in whole.lead_order)
    if cut_across:  # read whole: the lost run across the cut is bridged towards the sample after it
        assert part.file_samples is None and all(len(v) == N for v in part.leads.values())
    else:
        assert part.file_samples == N
        for name in whole.lead_order:
            assert np.array_equal(part.leads[name], whole.leads[name][:share], equal_nan=True)
            assert part.lost.get(name, []) == [(s, min(e, share - 1)) for s, e in whole.lost.get(name, []) if s < share]
    assert _waveform(part, settings, head) == _waveform(whole, settings, head)


def test_a_record_no_longer_than_its_share_is_read_whole(tmp_path):
    path = _record(tmp_path, ["16", "16"])
    part = readers.read_wfdb(path, head=2 * N)
    assert part.file_samples is None and all(len(v) == N for v in part.leads.values())


def test_a_data_file_cut_short_is_refused_as_when_read_whole(tmp_path):
    path = _record(tmp_path, ["16", "16"])
    data = path.with_suffix(".dat")
    data.write_bytes(data.read_bytes()[: 4 * 2000])  # 2000 of its 3000 frames
    with pytest.raises(readers.SignalError) as whole:
        readers.read_wfdb(path)
    with pytest.raises(readers.SignalError) as part:
        readers.read_wfdb(path, head=1000)
    assert str(part.value) == str(whole.value)


def test_several_samples_a_frame_are_read_whole(tmp_path, settings):
    path = _record(tmp_path, ["16", "16"], spf=[2, 1])
    whole = readers.read_wfdb(path)
    part = readers.read_wfdb(path, head=1000)
    assert part.file_samples is None
    assert _waveform(part, settings, 1000) == _waveform(whole, settings, 1000)


def test_a_stored_zip_is_read_in_part_the_same(tmp_path, settings):
    (tmp_path / "in").mkdir()
    path = _record(tmp_path / "in", ["212", "212"])
    archive = shutil.make_archive(str(tmp_path / "record"), "zip", root_dir=path.parent)
    with open(archive, "rb") as fh:
        whole = readers.read_wfdb_zip(fh, strict=False)
    with open(archive, "rb") as fh:
        part = readers.read_wfdb_zip(fh, strict=False, head=1200)
    assert part.file_samples == N and part.source_format == whole.source_format == "wfdb-zip"
    assert _waveform(part, settings, 1200) == _waveform(whole, settings, 1200)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0],
        [-5, 7, 7, -5, 0, 3],
        list(range(-3000, 3000, 7)) * 5,
        [2**31 - 1, -(2**31), 0, 5],  # too wide for a table: each written on its own
        list(np.random.default_rng(1).integers(-20000, 20000, size=5000)),
    ],
)
def test_integers_as_text_are_as_str_writes_them(values):
    array = np.asarray(values, dtype=np.int64)
    assert fhir._as_text(array) == [str(int(v)) for v in array]
