"""A clinic after a few years of use: the SQL each page and API endpoint costs at that volume.

    DATABASE_URL=postgres://.../DB .venv/bin/python -m bench.clinic_volume build    # once: fills DB
    DATABASE_URL=postgres://.../DB .venv/bin/python -m bench.clinic_volume measure  # any number of times
    .venv/bin/python -m bench.clinic_volume compare BEFORE.json AFTER.json       # a markdown table of two runs

``build`` fills the database named by DATABASE_URL (a scratch one: it refuses a database holding
other clinics) through the ORM and SQL, with no worker: clinic "Volume A" with 2,000 patients,
10,000 recordings (85 % done, 10 % failed, 5 % queued), 200 users, MI flags with review
decisions on most, interpretations, diaries, and one 24-hour recording (the 48 MIT-BIH records end
to end, stored as the WFDB zip an upload leaves: ~109,000 beats at their annotated places, the
rhythm analysis over them, its ~1,500 events, 60 diary entries); 400,000 audit rows; and a clinic
"Volume B" of a quarter that size, whose rows must never appear in A's answers (checked).

``measure`` requests every page and API endpoint through Django's test client as a doctor, an
administrator and a superuser of clinic A (API by token), counting the SQL queries
(CaptureQueriesContext) and timing each request (the median of 3), and prints EXPLAIN ANALYZE of
the slowest query of each. Writes bench/results/clinic_volume.json.
"""

import argparse
import datetime
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgsite.settings")
# as bench.holter's stack: the 24-hour record's 125 MB (two leads at 360 Hz) is over the default upload limit, and
# the measured requests are no client to throttle
os.environ.setdefault("ECG_MAX_UPLOAD_BYTES", str(400 * 1024 * 1024))
os.environ.setdefault("API_THROTTLE_RATE", "100000/minute")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Clinic, User  # noqa: E402
from api.services import api_token_create  # noqa: E402
from bench.common import REPO, machine, write_result  # noqa: E402
from diagnostics.models import (  # noqa: E402
    Beat,
    Diagnosis,
    DiaryEntry,
    ECGRecording,
    Event,
    EventReview,
    Interpretation,
    Review,
)
from mlmodels.models import ModelVersion  # noqa: E402
from patients.models import Patient  # noqa: E402

CLINICS = {"Volume A": 1.0, "Volume B": 0.25}
PATIENTS, RECORDINGS, USERS, AUDIT_ROWS = 2000, 10000, 200, 400_000
FAMILY = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright"]
GIVEN = ["Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gail", "Hugo", "Iris", "Jon", "Kai", "Lena"]


def _models() -> dict[str, ModelVersion]:
    out = {}
    for task in ("heartbeat", "heartbeat_record", "mi"):
        mv = ModelVersion.objects.filter(task=task, is_active=True).first()
        if mv is None:
            mv = ModelVersion.objects.create(
                task=task,
                version=f"volume-{task}",
                artifact=f"models/volume-{task}.keras",
                sha256="0" * 64,
                threshold=0.5 if task == "mi" else None,
                class_labels=["N", "S", "V", "F", "Q"] if task != "mi" else [],
                is_active=True,
                activated_at=timezone.now(),
            )
        out[task] = mv
    return out


def _holter_zip() -> tuple[str, int]:
    """The 24-hour record as an accepted WFDB upload is stored (a zip of .hea and .dat); its name and samples."""
    from bench.holter import MITDB_RECORDS, build_holter

    with tempfile.TemporaryDirectory() as tmp:
        hea, dat, seconds = build_holter(Path(tmp), MITDB_RECORDS)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
            zf.write(hea, hea.name)
            zf.write(dat, dat.name)
        buffer.seek(0)
        name = default_storage.save("recordings/volume-holter.zip", buffer)
    return name, int(round(seconds * 360))


def _holter_rows(recording: ECGRecording, n_samples: int, doctor: User, staff: User) -> None:
    import numpy as np

    from bench.holter import MITDB_RECORDS, reference_beats
    from diagnostics.services import rhythm_summary
    from ecg.rhythm import analyse_rhythm

    peaks, classes = reference_beats(MITDB_RECORDS)
    report = analyse_rhythm(
        signal=None, fs=360.0, r_peaks=peaks, classes=classes, n_samples=n_samples, vf_found=[], noisy=[]
    )
    rng = np.random.default_rng(7)
    one_hot = {c: i for i, c in enumerate("NSVFQ")}
    Beat.objects.bulk_create(
        (
            Beat(
                recording=recording,
                index=i,
                position=int(peaks[i]),
                aami_class=str(classes[i]),
                **{f"p_{c.lower()}": (0.9 if one_hot[c] == one_hot[str(classes[i])] else 0.025) for c in "NSVFQ"},
                mi_probability=float(rng.random()),
                family=int(one_hot[str(classes[i])]),
            )
            for i in range(len(peaks))
        ),
        batch_size=5000,
    )
    counts = {c: int(np.sum(classes == c)) for c in "NSVFQ"}
    Diagnosis.objects.create(
        recording=recording,
        clinic=recording.clinic,
        beat_count=len(peaks),
        **{f"count_{c.lower()}": counts[c] for c in "NSVFQ"},
        heart_rate_bpm=report.summary["heart_rate"]["mean_bpm"],
        mi_status="screened",
        mi_lead="MLII",
        mi_beats_used=200,
        mi_scored_beats=list(range(0, 2000, 10)),
        mi_score=0.7,
        mi_threshold=0.5,
        mi_flag=True,
        heartbeat_model=MODELS["heartbeat_record"],
        mi_model=MODELS["mi"],
        rhythm=rhythm_summary(report),
    )
    events = Event.objects.bulk_create(
        [Event(recording=recording, clinic=recording.clinic, **e.as_dict()) for e in report.events], batch_size=2000
    )
    EventReview.objects.bulk_create(
        EventReview(event=e, clinic=recording.clinic, reviewer=doctor, decision="confirm") for e in events[::5]
    )
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            recording=recording,
            clinic=recording.clinic,
            sample=int(n_samples * k / 61),
            symptom="palpitations",
            note=f"entry {k}",
            entered_by=staff,
        )
        for k in range(1, DiaryEntry.MAX_PER_RECORDING + 1)
    )


def build_clinic(name: str, scale: float) -> None:
    rng = random.Random(name)
    clinic = Clinic.objects.create(name=name)
    password = make_password("volume-bench-password")
    n_users = int(USERS * scale)
    roles = ["doctor"] * (n_users // 4) + ["admin"] * 3 + ["staff"] * (n_users - n_users // 4 - 3)
    tag = name[-1].lower()
    users = User.objects.bulk_create(
        User(username=f"vol{tag}_{role}_{i}", password=password, clinic=clinic, role=role, is_staff=role == "admin")
        for i, role in enumerate(roles)
    )
    doctors = [u for u in users if u.role == "doctor"]
    staff = [u for u in users if u.role == "staff"]
    patients = Patient.objects.bulk_create(
        (
            Patient(
                clinic=clinic,
                mrn=f"{tag.upper()}{i:06d}",
                family_name=f"{rng.choice(FAMILY)}{i % 97}",
                given_name=rng.choice(GIVEN),
                date_of_birth=datetime.date(1930 + i % 70, 1 + i % 12, 1 + i % 28),
                sex=rng.choice(["female", "male"]),
                created_by=rng.choice(staff),
            )
            for i in range(int(PATIENTS * scale))
        ),
        batch_size=2000,
    )
    now = timezone.now()
    recordings = []
    n_rec = int(RECORDINGS * scale)
    for i in range(n_rec):
        r = rng.random()
        status = "done" if r < 0.85 else "failed" if r < 0.95 else "queued"
        recordings.append(
            ECGRecording(
                clinic=clinic,
                patient=patients[rng.randrange(len(patients))],
                uploaded_by=rng.choice(staff),
                file=f"recordings/volume-{tag}-{i}.csv",
                original_filename=f"rec{i}.csv",
                input_format="csv",
                kind="beats",
                sha256=f"{i:064x}",
                status=status,
                error_message="the file held no heartbeat" if status == "failed" else "",
                input_beat_count=60,
            )
        )
    recordings = ECGRecording.objects.bulk_create(recordings, batch_size=2000)
    # spread over four years, as uploaded (auto_now_add stamped them all now)
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE diagnostics_ecgrecording SET created_at = %s - (random() * interval '1460 days'), "
            "updated_at = now() WHERE clinic_id = %s",
            [now, clinic.pk],
        )
    done = [r for r in recordings if r.status == "done"]
    diagnoses = Diagnosis.objects.bulk_create(
        (
            Diagnosis(
                recording=r,
                clinic=clinic,
                beat_count=60,
                count_n=55,
                count_s=2,
                count_v=3,
                count_f=0,
                count_q=0,
                mi_score=score,
                mi_threshold=0.5,
                mi_flag=score >= 0.5,
                heartbeat_model=MODELS["heartbeat"],
                mi_model=MODELS["mi"],
            )
            for r in done
            for score in [rng.random() * 0.625]
        ),
        batch_size=2000,
    )
    flagged = [d for d in diagnoses if d.mi_flag]
    Review.objects.bulk_create(
        (
            Review(diagnosis=d, clinic=clinic, reviewer=rng.choice(doctors), decision=rng.choice(["confirm", "reject"]))
            for d in flagged[: len(flagged) * 3 // 4]
        ),
        batch_size=2000,
    )
    Interpretation.objects.bulk_create(
        (
            Interpretation(recording=r, clinic=clinic, author=rng.choice(doctors), text="Sinus rhythm.")
            for r in done[: len(done) // 2]
        ),
        batch_size=2000,
    )
    DiaryEntry.objects.bulk_create(
        (
            DiaryEntry(recording=r, clinic=clinic, sample=1000 * k, symptom="dizziness", entered_by=rng.choice(staff))
            for r in done[:2000]
            for k in range(5)
        ),
        batch_size=5000,
    )
    # each beat file's 60 beats (no position: rows carry no timing)
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO diagnostics_beat
                (recording_id, index, position, aami_class, p_n, p_s, p_v, p_f, p_q, mi_probability, classified_as)
            SELECT r.id, g, NULL, 'N', 0.9, 0.025, 0.025, 0.025, 0.025, 0.1, ''
            FROM diagnostics_ecgrecording r, generate_series(0, 59) g
            WHERE r.clinic_id = %s AND r.status = 'done'
            """,
            [clinic.pk],
        )
    if scale == 1.0:
        name_, n_samples = _holter_zip()
        holter = ECGRecording.objects.create(
            clinic=clinic,
            patient=patients[0],
            uploaded_by=staff[0],
            file=name_,
            original_filename="holter.zip",
            input_format="wfdb",
            kind="signal",
            sampling_rate=360.0,
            lead="MLII",
            leads=["MLII", "V1"],
            sample_count=n_samples,
            sha256="f" * 64,
            status="done",
        )
        _holter_rows(holter, n_samples, doctors[0], staff[0])
    # the audit trail: the views, exports and logins of four years
    rows = int(AUDIT_ROWS * scale)
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO accounts_auditevent
                (created_at, user_id, username, clinic_id, action, object_type, object_id, ip, channel, path,
                 method, status_code)
            SELECT %(now)s - (g * interval '5 minutes') * %(spread)s, u.id, u.username, %(clinic)s,
                   (ARRAY['view','view','view','token_use','export','login','update','review'])[1 + g %% 8],
                   (ARRAY['recording','patient','diagnosis',''])[1 + g %% 4], (g %% 10000)::text, '10.0.0.1',
                   (ARRAY['web','api'])[1 + g %% 2], '/recordings/' || (g %% 10000) || '/', 'GET', 200
            FROM generate_series(1, %(rows)s) g
            JOIN LATERAL (SELECT id, username FROM accounts_user WHERE clinic_id = %(clinic)s
                          ORDER BY id OFFSET g %% %(users)s LIMIT 1) u ON true
            """,
            {"now": now, "spread": 1.0 / scale, "clinic": clinic.pk, "rows": rows, "users": len(users)},
        )


MODELS: dict[str, ModelVersion] = {}


def build() -> None:
    if Clinic.objects.exclude(name__in=CLINICS).exists() or Clinic.objects.filter(name__in=CLINICS).exists():
        sys.exit("bench.clinic_volume build: the database already holds clinics; give it an empty one")
    MODELS.update(_models())
    t0 = time.perf_counter()
    for name, scale in CLINICS.items():
        with transaction.atomic():
            build_clinic(name, scale)
        print(f"{name}: built in {time.perf_counter() - t0:.0f} s", flush=True)
    User.objects.create_superuser("volume_root", password="volume-bench-password", clinic=None)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print("counts:", counts(), flush=True)


def counts() -> dict[str, int]:
    with connection.cursor() as cur:
        out = {}
        for table in (
            "patients_patient",
            "diagnostics_ecgrecording",
            "diagnostics_diagnosis",
            "diagnostics_review",
            "diagnostics_beat",
            "diagnostics_event",
            "diagnostics_diaryentry",
            "accounts_user",
            "accounts_auditevent",
        ):
            cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
            out[table] = cur.fetchone()[0]
    return out


def _explain(sql: str) -> str:
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql)
        return "\n".join(r[0] for r in cur.fetchall())


def targets(a: Clinic) -> list[tuple[str, str, str]]:
    """(who, label, url) of every page and endpoint measured."""
    holter = ECGRecording.objects.get(clinic=a, kind="signal")
    small = ECGRecording.objects.filter(clinic=a, status="done", kind="beats").order_by("pk").first()
    patient = holter.patient
    flagged = Diagnosis.objects.filter(clinic=a, mi_flag=True).order_by("pk").first()
    h, r, p = holter.pk, small.pk, patient.pk
    n = holter.sample_count
    return [
        ("doctor", "dashboard", "/"),
        ("doctor", "patient list", "/patients/"),
        ("doctor", "patient list, page 40", "/patients/?page=40"),
        ("doctor", "patient search (name)", "/patients/?q=smith"),
        ("doctor", "patient search (MRN)", "/patients/?q=A000123"),
        ("doctor", "patient page (24-h patient)", f"/patients/{p}/"),
        ("doctor", "patient comparison", f"/patients/{p}/compare/"),
        ("doctor", "recording page (24 h)", f"/recordings/{h}/"),
        ("doctor", "recording page (beat file)", f"/recordings/{r}/"),
        ("doctor", "beat table (24 h)", f"/recordings/{h}/beats/"),
        ("doctor", "beat table, page 500", f"/recordings/{h}/beats/?page=500"),
        ("doctor", "beat table, class V", f"/recordings/{h}/beats/?class=V"),
        ("doctor", "viewer signal, 10 s", f"/recordings/{h}/signal/?start={n // 2}&end={n // 2 + 3600}&px=1000"),
        ("doctor", "viewer signal, 24 h", f"/recordings/{h}/signal/?start=0&end={n}&px=1000"),
        ("doctor", "report (24 h)", f"/recordings/{h}/report/"),
        ("doctor", "rhythm page (24 h)", f"/recordings/{h}/rhythm/"),
        ("doctor", "beat shapes (24 h)", f"/recordings/{h}/shapes/"),
        ("doctor", "review queue", "/reviews/"),
        ("doctor", "review queue, page 20", "/reviews/?page=20"),
        ("doctor", "recording CSV export (24 h)", f"/recordings/{h}/export.csv"),
        ("admin", "audit trail (clinic admin)", "/admin/accounts/auditevent/"),
        ("admin", "audit trail, page 200", "/admin/accounts/auditevent/?p=200"),
        ("admin", "audit trail, action=export", "/admin/accounts/auditevent/?action__exact=export"),
        ("admin", "users (clinic admin)", "/admin/accounts/user/"),
        ("root", "audit trail (superuser)", "/admin/accounts/auditevent/"),
        ("root", "model versions (admin)", "/admin/mlmodels/modelversion/"),
        ("api", "API patients", "/api/v1/patients"),
        ("api", "API patients, page 40", "/api/v1/patients?page=40"),
        ("api", "API patients ?search", "/api/v1/patients?search=smith"),
        ("api", "API recordings", "/api/v1/recordings"),
        ("api", "API recordings, page 200", "/api/v1/recordings?page=200"),
        ("api", "API recordings ?status=failed", "/api/v1/recordings?status=failed"),
        ("api", "API recordings ?patient", f"/api/v1/recordings?patient={p}"),
        ("api", "API diagnoses", "/api/v1/diagnoses"),
        ("api", "API diagnoses ?flagged", "/api/v1/diagnoses?flagged=true"),
        ("api", "API reviews", "/api/v1/reviews"),
        ("api", "API model versions", "/api/v1/model-versions"),
        ("api", "API recording (24 h)", f"/api/v1/recordings/{h}"),
        ("api", "API /events (24 h)", f"/api/v1/recordings/{h}/events"),
        ("api", "API /events?type=v_couplet", f"/api/v1/recordings/{h}/events?type=v_couplet"),
        ("api", "API /beats (24 h)", f"/api/v1/recordings/{h}/beats"),
        ("api", "API /beats, page 200", f"/api/v1/recordings/{h}/beats?page=200"),
        ("api", "API /beats?aami_class=V", f"/api/v1/recordings/{h}/beats?aami_class=V"),
        ("api", "API /diary (24 h)", f"/api/v1/recordings/{h}/diary"),
        ("api", "API /beats?start&end (10 s)", f"/api/v1/recordings/{h}/beats?start={n // 2}&end={n // 2 + 3600}"),
        ("api", "API FHIR (24 h)", f"/api/v1/recordings/{h}/fhir"),
        ("api", "API FHIR (beat file)", f"/api/v1/recordings/{r}/fhir"),
        ("api", "API export.csv (24 h)", f"/api/v1/recordings/{h}/export.csv"),
        ("api", "API diagnosis (flagged)", f"/api/v1/diagnoses/{flagged.pk}"),
    ]


def measure(repeats: int, explain: bool) -> dict:
    a, b = Clinic.objects.get(name="Volume A"), Clinic.objects.get(name="Volume B")
    doctor = User.objects.filter(clinic=a, role="doctor").order_by("pk").first()
    admin_user = User.objects.filter(clinic=a, role="admin").order_by("pk").first()
    root = User.objects.get(username="volume_root")
    clients = {}
    for who, user in (("doctor", doctor), ("admin", admin_user), ("root", root)):
        clients[who] = Client(HTTP_HOST="127.0.0.1")
        clients[who].force_login(user)
    token = api_token_create(user=doctor, name="volume bench")[1]
    clients["api"] = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    b_mrns = set(Patient.objects.filter(clinic=b).values_list("mrn", flat=True)[:500])
    rows = []
    for who, label, url in targets(a):
        times, captured, status, body = [], None, None, b""
        for _ in range(repeats):
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                response = clients[who].get(url)
                content = b"".join(response.streaming_content) if response.streaming else response.content
                times.append((time.perf_counter() - t0) * 1000)
            captured, status, body = queries.captured_queries, response.status_code, content
        text = body.decode("utf-8", "replace")
        leaked = sorted(m for m in b_mrns if m in text)
        slowest = max(captured, key=lambda q: float(q["time"])) if captured else None
        row = {
            "who": who,
            "what": label,
            "url": url,
            "status": status,
            "queries": len(captured),
            "ms": round(statistics.median(times), 1),
            "slowest_query_ms": round(float(slowest["time"]) * 1000, 1) if slowest else None,
            "slowest_sql": slowest["sql"][:400] if slowest else None,
            "clinic_b_rows_shown": len(leaked),
        }
        if explain and slowest and float(slowest["time"]) * 1000 >= 20 and slowest["sql"].lstrip().startswith("SELECT"):
            row["plan"] = _explain(slowest["sql"])
        rows.append(row)
        print(
            f"{row['status']} {row['queries']:4d} q {row['ms']:8.1f} ms  slowest {row['slowest_query_ms']} ms  "
            f"{who:6s} {label}",
            flush=True,
        )
        if "plan" in row:
            print("    " + row["plan"].replace("\n", "\n    "), flush=True)
    return {"counts": counts(), "requests": rows}


def compare(before: Path, after: Path) -> None:
    """The two measurements side by side, as bench/README.md tables them."""
    old = {(r["who"], r["what"]): r for r in json.loads(before.read_text())["requests"]}
    print("| request | queries before → after | ms before → after | slowest query ms before → after |")
    print("|---|---|---|---|")
    for r in json.loads(after.read_text())["requests"]:
        o = old.get((r["who"], r["what"]))
        if o is None:
            continue
        print(
            f"| {r['what']} ({r['who']}) | {o['queries']} → {r['queries']} | {o['ms']:,.0f} → {r['ms']:,.0f} | "
            f"{o['slowest_query_ms']} → {r['slowest_query_ms']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["build", "measure", "compare"])
    parser.add_argument("results", nargs="*", help="compare: the result files before and after, in that order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "clinic_volume.json"))
    args = parser.parse_args()
    if args.step == "build":
        build()
        return
    if args.step == "compare":
        compare(*[Path(r) for r in args.results])
        return
    load = os.getloadavg()
    result = measure(args.repeats, not args.no_explain)
    result["machine"] = machine(load)
    write_result(Path(args.out), result)
    print(json.dumps(result["counts"]))


if __name__ == "__main__":
    main()
