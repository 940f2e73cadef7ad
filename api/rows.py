"""List pages as plain dicts: the same JSON as the serializers in api/serializers.py (which stay the
schema's source and serve single objects), without DRF's per-field machinery on every row of a page.

tests/api/test_rows.py checks each function against its serializer on full pages.

The *_JSON expressions write the same rows in PostgreSQL, as the JSON text the renderer would write
for these dicts, byte for byte (so a page's ETag does not depend on which path answered it): the
statement that reads a page (api/pages.py read_json_page) selects them, and the web process joins
the rows' text without converting their columns or encoding a dict per row.
"""

import functools
from collections.abc import Callable
from datetime import date, datetime
from datetime import timezone as datetime_timezone

import orjson
from django.utils import timezone

from accounts.models import User
from diagnostics import rhythm_reviewed
from diagnostics.models import Diagnosis, ECGRecording, Interpretation
from patients.models import Patient

from .renderers import dumps

PATIENT_FIELDS = ("id", "mrn", "family_name", "given_name", "date_of_birth", "sex", "created_at", "updated_at")


def when(value: datetime | None, tz=None) -> str | None:
    """A date-time as DRF writes it: in the current time zone (or ``tz``, looked up once per page), ISO 8601,
    UTC as Z."""
    if value is None:
        return None
    text = value.astimezone(tz or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def utc(tz) -> bool:
    """Whether ``tz`` is UTC, the only time zone the *_JSON expressions write date-times in."""
    return tz is datetime_timezone.utc or getattr(tz, "key", None) in ("UTC", "Etc/UTC")


# JSON values of the page's columns (api/pages.py names the page "page"), as the functions here write them.
# A column that cannot be NULL is written without a fallback: a smaller expression to plan and to run.
def _or_null(model, column: str, value: str) -> str:
    field = next(f for f in model._meta.concrete_fields if f.column == column)
    return f"COALESCE({value}, 'null')" if field.null else value


def _sql_text(model, column: str) -> str:
    return _or_null(model, column, f"to_json(page.{column})::text")  # escapes as orjson does: \", \\, \n, \u001f


def _sql_integer(model, column: str) -> str:
    return _or_null(model, column, f"page.{column}::text")


def _sql_day(model, column: str) -> str:
    return _or_null(model, column, f"""'"' || to_char(page.{column}, 'YYYY-MM-DD') || '"'""")


def _sql_when(model, column: str) -> str:
    """when() in UTC: ISO 8601, microseconds only when there are some, Z."""
    iso = f"""replace(to_char(page.{column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '')"""
    return _or_null(model, column, f"""'"' || {iso} || 'Z"'""")


def _sql_float(column: str) -> str:
    """A float as orjson writes it, for the values _sql_float_exact admits: 360.0, 0.5."""
    value = f"page.{column}"
    return f"CASE WHEN {value} IS NULL THEN 'null' WHEN {value} = trunc({value}) THEN {value}::text || '.0' ELSE {value}::text END"


def _sql_float_exact(column: str) -> str:
    """Whether PostgreSQL writes the float as orjson does: both write the shortest digits that read back
    the same, PostgreSQL in exponent form below 1e-4 and from 1e15 (orjson from 1e16), NaN and infinities
    as such (orjson as null)."""
    value = f"page.{column}"
    return f"({value} IS NULL OR (abs({value}) < 1e15 AND ({value} = trunc({value}) OR abs({value}) >= 1e-4)))"


def _sql_object(fields: list[tuple[str, str]]) -> str:
    """A JSON object of (key, value expression): keys are plain names, values never NULL."""
    parts = []
    for i, (key, value) in enumerate(fields):
        assert key.isidentifier(), key
        parts += [f"""'{"," if i else "{"}"{key}":'""", value]
    return " || ".join([*parts, "'}'"])


def page_results(fetched: list[tuple]) -> orjson.Fragment:
    """The results of a page of (id, JSON text) rows, as one JSON array."""
    return orjson.Fragment("[" + ",".join([row[1] for row in fetched]) + "]")


def patient_values(queryset):
    """Patients as dicts of what a row shows (paginate this, then patient_rows)."""
    return queryset.values(*PATIENT_FIELDS)


def patient_rows(rows: list[dict]) -> list[dict]:
    """Rows of a page of patient_values."""
    tz = timezone.get_current_timezone()
    for row in rows:
        row["date_of_birth"] = day(row["date_of_birth"])
        row["created_at"] = when(row["created_at"], tz)
        row["updated_at"] = when(row["updated_at"], tz)
    return rows


# The rows of patient_rows, for read_json_page: (id, the row's JSON text).
PATIENT_JSON = "page.id, " + _sql_object(
    [
        ("id", _sql_integer(Patient, "id")),
        ("mrn", _sql_text(Patient, "mrn")),
        ("family_name", _sql_text(Patient, "family_name")),
        ("given_name", _sql_text(Patient, "given_name")),
        ("date_of_birth", _sql_day(Patient, "date_of_birth")),
        ("sex", _sql_text(Patient, "sex")),
        ("created_at", _sql_when(Patient, "created_at")),
        ("updated_at", _sql_when(Patient, "updated_at")),
    ]
)


def _model_ref(version) -> dict:
    return {"id": version.id, "task": version.task, "version": version.version}


def _review(review, recording_id: int) -> dict:
    return {
        "id": review.id,
        "diagnosis": review.diagnosis_id,
        "recording": recording_id,
        "decision": review.decision,
        "note": review.note,
        "reviewer": review.reviewer.username,
        "reviewer_name": review.reviewer.display_name,
        "created_at": when(review.created_at),
    }


def interpretation_row(interpretation: Interpretation, tz=None) -> dict:
    return {
        "id": interpretation.id,
        "recording": interpretation.recording_id,
        "text": interpretation.text,
        "reason": interpretation.reason,
        "undecided_at_signing": interpretation.undecided_at_signing,
        "signed_by": {"id": interpretation.author_id, "name": interpretation.author.display_name},
        "signed_at": when(interpretation.created_at, tz),
        "amends": interpretation.amends_id,
    }


def diagnosis_row(diagnosis: Diagnosis) -> dict:
    review = diagnosis.latest_review()
    status = diagnosis.rhythm_status
    return {
        "id": diagnosis.id,
        "recording": diagnosis.recording_id,
        "beat_count": diagnosis.beat_count,
        "classes": {c: {"count": n, "percent": round(p, 3)} for c, n, p in diagnosis.class_counts()},
        "heart_rate_bpm": diagnosis.heart_rate_bpm,
        "mi_screen": diagnosis.mi_screen,
        "mi_score": diagnosis.mi_score,
        "mi_threshold": diagnosis.mi_threshold,
        "mi_flag": diagnosis.mi_flag,
        "heartbeat_model": _model_ref(diagnosis.heartbeat_model),
        "classification_context": "record" if diagnosis.classified_in_context else "single_beat",
        "mi_model": _model_ref(diagnosis.mi_model),
        "latest_review": _review(review, diagnosis.recording_id) if review else None,
        "rhythm": rhythm_reviewed.rhythm_for_api(diagnosis),
        "beats_corrected": diagnosis.beats_corrected,
        "rhythm_status": status,
        "rhythm_recompute_error": diagnosis.rhythm_recompute_error if status == "failed" else None,
        "rhythm_recomputed_at": when(diagnosis.rhythm_recomputed_at),
        "created_at": when(diagnosis.created_at),
    }


RECORDING_FIELDS = (
    "id",
    "patient_id",
    "kind",
    "status",
    "error_message",
    "progress_done",
    "progress_total",
    "input_format",
    "original_filename",
    "sampling_rate",
    "lead",
    "leads",
    "sample_count",
    "recorded_at",
    "input_beat_count",
    "sha256",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
)


def recording_values(queryset):
    """Recordings as dicts of what a row shows (paginate this, then recording_rows): the table's columns alone, so
    that the list's statement is compiled once per shape (api/pages.py); its uploader is named by recording_rows,
    or in SQL by RECORDING_JSON."""
    return queryset.values(*RECORDING_FIELDS, "uploaded_by_id")


def uploader_names(rows: list[dict]) -> dict[int, str]:
    """The display_name of each uploader of ``rows``, by user id: one query for a page."""
    ids = {r["uploaded_by_id"] for r in rows if r["uploaded_by_id"] is not None}
    if not ids:
        return {}
    return {u.pk: u.display_name for u in User.objects.filter(pk__in=ids).only("first_name", "last_name", "username")}


def recording_rows(
    rows: list[dict], diagnoses: dict[int, Diagnosis], interpretations: dict[int, Interpretation], *, base: str
) -> list[dict]:
    """Rows of a page of recording_values; ``diagnoses`` and current ``interpretations`` by recording id, for those
    that are done; ``base`` the list's absolute URL, which the rows' links start with."""
    tz = timezone.get_current_timezone()
    names = uploader_names(rows)
    out = []
    for r in rows:
        done = r["status"] == ECGRecording.Status.DONE
        diagnosis = diagnoses.get(r["id"]) if done else None
        interpretation = interpretations.get(r["id"]) if done else None
        link = f"{base}/{r['id']}"
        out.append(
            {
                "id": r["id"],
                "patient": r["patient_id"],
                "kind": r["kind"],
                "status": r["status"],
                "error_message": r["error_message"],
                "progress": {"done": r["progress_done"], "total": r["progress_total"]},
                "input_format": r["input_format"],
                "original_filename": r["original_filename"],
                "sampling_rate": r["sampling_rate"],
                "lead": r["lead"],
                "leads": list(r["leads"] or []),
                "sample_count": r["sample_count"],
                "recorded_at": when(r["recorded_at"], tz),
                "input_beat_count": r["input_beat_count"],
                "sha256": r["sha256"],
                "uploaded_by": (
                    None
                    if r["uploaded_by_id"] is None
                    else {"id": r["uploaded_by_id"], "name": names.get(r["uploaded_by_id"])}
                ),
                "created_at": when(r["created_at"], tz),
                "started_at": when(r["started_at"], tz),
                "finished_at": when(r["finished_at"], tz),
                "updated_at": when(r["updated_at"], tz),
                "diagnosis": diagnosis_row(diagnosis) if diagnosis else None,
                "interpretation": interpretation_row(interpretation, tz) if interpretation else None,
                "links": {
                    "self": link,
                    "beats": f"{link}/beats",
                    "events": f"{link}/events",
                    "fhir": f"{link}/fhir",
                    "interpretations": f"{link}/interpretations",
                    "moves": f"{link}/moves",
                    "export": f"{link}/export.csv",
                    "diary": f"{link}/diary",
                    "activities": f"{link}/activities",
                    "sleep": f"{link}/sleep",
                    "beat_families": f"{link}/beat-families",
                    "beat_corrections": f"{link}/beat-corrections",
                },
            }
        )
    return out


_DONE = ECGRecording.Status.DONE.value
assert _DONE.isidentifier()
_NO_DIAGNOSIS = ',"diagnosis":null,"interpretation":null,"links":'
# Names of the leads: an array of strings (anything else is written by recording_rows), most often empty.
_LEADS_EXACT = (
    "(page.leads = '[]' OR jsonb_typeof(page.leads) = 'null' OR "
    """(jsonb_typeof(page.leads) = 'array' AND NOT jsonb_path_exists(page.leads, 'strict $[*] ? (@.type() != "string")')))"""
)
# jsonb writes an array as ["I", "II"]: with its strings' quotes escaped, '", "' can only be a separator.
_LEADS = """CASE WHEN jsonb_typeof(page.leads) = 'array' THEN replace(page.leads::text, '", "', '","') ELSE '[]' END"""


# The row's uploaded_by, as recording_rows writes it: the uploader's display_name (the full name, else the username)
# read by a subquery of the select alone, so that the page's own query stays one table's columns (api/pages.py).
_SQL_UPLOADER = (
    "CASE WHEN page.uploaded_by_id IS NULL THEN 'null' ELSE "
    """'{"id":' || page.uploaded_by_id::text || ',"name":' || COALESCE((SELECT to_json(COALESCE(NULLIF(TRIM("""
    f"""u.first_name || ' ' || u.last_name), ''), u.username))::text FROM "{User._meta.db_table}" u """
    "WHERE u.id = page.uploaded_by_id), 'null') || '}' END"
)


def _sql_link(tail: str) -> str:
    """A link of the row: its base (a parameter) is already JSON, to_json per link cost more than the rest of it."""
    return f"""'"' || %s::text || '/' || page.id || '{tail}"'"""


# The rows of recording_rows without their diagnosis and interpretation, for read_json_page with
# recording_json_params: (id, the row's JSON text with "diagnosis":null,"interpretation":null, or NULL when
# recording_rows must write the row, done).
RECORDING_JSON = (
    "page.id, CASE WHEN "
    + _sql_float_exact("sampling_rate")
    + " AND "
    + _LEADS_EXACT
    + " THEN "
    + _sql_object(
        [
            ("id", _sql_integer(ECGRecording, "id")),
            ("patient", _sql_integer(ECGRecording, "patient_id")),
            ("kind", _sql_text(ECGRecording, "kind")),
            ("status", _sql_text(ECGRecording, "status")),
            ("error_message", _sql_text(ECGRecording, "error_message")),
            (
                "progress",
                _sql_object(
                    [
                        ("done", _sql_integer(ECGRecording, "progress_done")),
                        ("total", _sql_integer(ECGRecording, "progress_total")),
                    ]
                ),
            ),
            ("input_format", _sql_text(ECGRecording, "input_format")),
            ("original_filename", _sql_text(ECGRecording, "original_filename")),
            ("sampling_rate", _sql_float("sampling_rate")),
            ("lead", _sql_text(ECGRecording, "lead")),
            ("leads", _LEADS),
            ("sample_count", _sql_integer(ECGRecording, "sample_count")),
            ("recorded_at", _sql_when(ECGRecording, "recorded_at")),
            ("input_beat_count", _sql_integer(ECGRecording, "input_beat_count")),
            ("sha256", _sql_text(ECGRecording, "sha256")),
            ("uploaded_by", _SQL_UPLOADER),
            ("created_at", _sql_when(ECGRecording, "created_at")),
            ("started_at", _sql_when(ECGRecording, "started_at")),
            ("finished_at", _sql_when(ECGRecording, "finished_at")),
            ("updated_at", _sql_when(ECGRecording, "updated_at")),
            ("diagnosis", "'null'"),
            ("interpretation", "'null'"),
            (
                "links",
                _sql_object(
                    [
                        ("self", _sql_link("")),
                        ("beats", _sql_link("/beats")),
                        ("events", _sql_link("/events")),
                        ("fhir", _sql_link("/fhir")),
                        ("interpretations", _sql_link("/interpretations")),
                        ("moves", _sql_link("/moves")),
                        ("export", _sql_link("/export.csv")),
                        ("diary", _sql_link("/diary")),
                        ("activities", _sql_link("/activities")),
                        ("sleep", _sql_link("/sleep")),
                        ("beat_families", _sql_link("/beat-families")),
                        ("beat_corrections", _sql_link("/beat-corrections")),
                    ]
                ),
            ),
        ]
    )
    + f" END, page.status = '{_DONE}'"
)


@functools.lru_cache(maxsize=64)
def recording_json_params(base: str) -> tuple:
    """RECORDING_JSON's parameters: the links' base (the list's absolute URL) as JSON string content, once per
    link."""
    return (orjson.dumps(base).decode()[1:-1],) * RECORDING_JSON.count("%s")


def recording_results(
    fetched: list[tuple],
    diagnoses_of: Callable[[list[int]], dict[int, Diagnosis]],
    values_of: Callable[[list[int]], list[dict]],
    interpretations_of: Callable[[list[int]], dict[int, Interpretation]],
    *,
    base: str,
) -> orjson.Fragment:
    """The results of a page of RECORDING_JSON rows, as one JSON array: ``diagnoses_of`` and
    ``interpretations_of`` the done recordings' ids, by recording id (the current interpretation of those that
    have one), and ``values_of`` ids, recording_values of the rows PostgreSQL could not write; ``base`` as
    recording_rows takes it."""
    done = [id_ for id_, _text, is_done in fetched if is_done]
    unwritten = [id_ for id_, text, _done in fetched if text is None]
    if not done and not unwritten:  # e.g. a page of queued recordings: the rows as PostgreSQL wrote them
        return page_results(fetched)
    diagnoses = diagnoses_of(done)
    interpretations = interpretations_of(done)
    written_here = (
        {r["id"]: r for r in recording_rows(values_of(unwritten), diagnoses, interpretations, base=base)}
        if unwritten
        else {}
    )
    texts = []
    for id_, text, _done in fetched:
        if text is None:
            if id_ in written_here:  # else deleted since the page was read
                texts.append(dumps(written_here[id_]).decode())
            continue
        diagnosis, interpretation = diagnoses.get(id_), interpretations.get(id_)
        if diagnosis is not None or interpretation is not None:
            head, _sep, links = text.rpartition(_NO_DIAGNOSIS)
            diagnosis_text = dumps(diagnosis_row(diagnosis)).decode() if diagnosis is not None else "null"
            interpretation_text = dumps(interpretation_row(interpretation)).decode() if interpretation else "null"
            text = f'{head},"diagnosis":{diagnosis_text},"interpretation":{interpretation_text},"links":{links}'
        texts.append(text)
    return orjson.Fragment("[" + ",".join(texts) + "]")
