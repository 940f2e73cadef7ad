"""A list page, its count and its audit row in one statement: one round trip to PostgreSQL per list read.

The generic path (DRF's paginator, then AuditMiddleware) costs three: the count, the page and the
audit INSERT, each compiled by the ORM. Here the count, the page and the INSERT are one statement of
data-modifying CTEs, so the audit row commits with the read, before the response is built, and only for
a page that exists (an invalid page writes no row and is answered 404 by the generic path, as before).

Requests whose status cannot be known before the response is built take the generic path: a HEAD, a
conditional GET (If-None-Match may be answered 304) and a page number that is not a plain number.

A list whose rows PostgreSQL can write (api/rows.py PATIENT_JSON and RECORDING_JSON) has them written
as JSON text by PostgreSQL (read_json_page): the web process neither converts the columns nor builds and
encodes a dict per row, it joins the rows' text. The page's statement reads each row's version, and each
web process keeps the text of the versions it has had written: a second statement writes only the rows
it does not hold yet (on a list read again and again, none).
"""

import functools
import hashlib
import time
from collections.abc import Callable
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.core.paginator import Page, Paginator
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.sql import Query
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent

from . import rows
from .renderers import OrjsonRenderer

# The audit row's fields as accounts.audit.event_fields names them, and their columns.
_AUDIT_FIELDS = (
    "user",
    "username",
    "clinic",
    "action",
    "object_type",
    "object_id",
    "ip",
    "channel",
    "path",
    "method",
    "status_code",
)
_AUDIT_COLUMNS = ["created_at", *(str(AuditEvent._meta.get_field(f).column) for f in _AUDIT_FIELDS)]  # type: ignore[union-attr]

STATUS = 200


def page_number(request, paginator) -> int | None:
    """The requested page when it is a plain page number (DRF's default: 1), else None (the generic path)."""
    raw = request.query_params.get(paginator.page_query_param, "1")  # "" and the rest: the paginator refuses them
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
        return None
    return int(raw)


# Statements by the shape of their list query (see _statement), each compiled once per process.
_statements: dict[tuple, str] = {}
_STATEMENTS_MAX = 512


def _statement(query, page_query, db: str, select: str = "page.*") -> tuple[str, list, list, bool]:
    """(the statement, the count's parameters, the page's parameters, whether it is kept) for the page
    ``page_query`` of ``query``, whose rows are ``select`` over the page's columns (``page``).

    Compiling the page's and the count's SQL is the ORM's largest cost in a list read. A query on one
    table, selecting columns only, is compiled once per shape: its model, columns, ordering, slice and
    the SQL of its WHERE clause (compiled per request: it holds the clinic scope and the filters' values,
    which are the statement's only parameters, as the full compile that filled the entry verified)."""
    connection = connections[db]
    simple = (
        sum(1 for alias in query.alias_map if query.alias_refcount[alias]) == 1  # one table, no joins
        and query.values_select
        and not query.extra_select
        and set(query.annotation_select) <= {ROW_VERSION}
        and not query.distinct
        and query.combinator is None
        and query.group_by is None
        and not query.select_for_update
        and query.where is not None
    )
    key = None
    if simple:
        try:
            where_sql, where_params = query.get_compiler(using=db).compile(query.where)
        except (EmptyResultSet, FullResultSet):
            where_sql = None
        if where_sql is not None:
            key = (
                db,
                query.model._meta.label,
                query.values_select,
                tuple(query.annotation_select),
                query.order_by,
                query.default_ordering,
                query.standard_ordering,
                page_query.low_mark,
                page_query.high_mark,
                where_sql,
                select,
            )
            sql = _statements.get(key)
            if sql is not None:
                return sql, list(where_params), list(where_params), True
    page_sql, page_params = page_query.get_compiler(using=db).as_sql()
    count_query = query.clone()
    count_query.clear_ordering(force=True)
    count_query.set_values(["pk"])
    count_sql, count_params = count_query.get_compiler(using=db).as_sql()
    placeholders = ", ".join(["now()"] + ["%s::inet" if f == "ip" else "%s" for f in _AUDIT_FIELDS])
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    # The nested loop over the single row of "total" returns the page's rows in the page query's order.
    sql = (
        f"WITH total AS (SELECT count(*) AS n FROM ({count_sql}) AS counted), "
        f"audit AS (INSERT INTO {table} ({', '.join(_AUDIT_COLUMNS)}) SELECT {placeholders} "
        "WHERE %s = 1 OR (SELECT n FROM total) > %s RETURNING id) "
        f"SELECT total.n, (SELECT count(*) FROM audit), {select} FROM total "
        f"LEFT JOIN LATERAL ({page_sql}) AS page ON true"
    )
    kept = list(page_params) == list(count_params) == list(where_params)
    if key is not None and kept:
        if len(_statements) >= _STATEMENTS_MAX:
            _statements.clear()
        _statements[key] = sql
    return sql, list(count_params), list(page_params), key is not None and kept


# Names of prepared statements by their SQL, and the statements each connection has prepared.
_names: dict[str, str] = {}
_PREPARED = "_ecg_prepared_pages"


def _execute(connection, cursor, sql: str, params: tuple) -> None:
    """Execute a page's statement as a statement prepared on this connection.

    Parsing and planning the statement (its rows' JSON is a long expression) cost PostgreSQL more than
    running it: each connection (kept for CONN_MAX_AGE) prepares each statement once. Not behind a
    transaction pooler (DISABLE_SERVER_SIDE_CURSORS), where a session's prepared statements are not its own."""
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS") or connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    raw = connection.connection
    prepared = connection.__dict__.get(_PREPARED)
    if prepared is None or prepared[0] is not raw:  # a new connection has none
        prepared = connection.__dict__[_PREPARED] = (raw, set())
    name = _names.get(sql)
    if name is None:
        if len(_names) >= _STATEMENTS_MAX:
            _names.clear()
        name = _names[sql] = "ecg_page_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    execute = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"
    if name not in prepared[1]:
        if len(prepared[1]) >= _STATEMENTS_MAX:
            cursor.execute("DEALLOCATE ALL")
            prepared[1].clear()
        # On its own: a prepared statement outlives a failed EXECUTE and a rolled back transaction.
        cursor.execute(f"PREPARE {name} AS {sql % tuple(f'${i}' for i in range(1, len(params) + 1))}")
        prepared[1].add(name)
    cursor.execute(execute, params)


# Statements by the shape a list names for its query (read_json_page's ``shape``): (the statement, its database).
_shaped: dict[tuple, tuple[str, str]] = {}


def _database(values: QuerySet | Callable[[], QuerySet]) -> str:
    """The database alias a list's queryset reads (the default one for a queryset not yet built)."""
    return values.db if isinstance(values, QuerySet) else DEFAULT_DB_ALIAS


def _read(
    view, values: QuerySet | Callable[[], QuerySet], select: str, select_params: tuple, shape: tuple | None = None
) -> tuple[list[tuple], Query | None, str] | None:
    """(the page's rows as ``select`` writes them, the page's query or None, its database) with the audit row written,
    or None when the generic path must answer. ``select``'s first column is never NULL on a page's row.

    ``values`` is the list's values() queryset, or a function that builds it: with ``shape``, (a name for
    the query's SQL, the values of its WHERE clause in order), it is built only the first time this
    process reads such a page, when the statement is compiled and the values are checked to be the
    statement's only parameters (then the statement serves every page of that shape and size)."""
    request = view.request
    django_request = request._request
    paginator = view.paginator
    if request.method != "GET" or "HTTP_IF_NONE_MATCH" in request.META or paginator is None:
        return None
    if connections[_database(values)].vendor != "postgresql":  # the statement is PostgreSQL's alone
        return None
    size = paginator.get_page_size(request)
    number = page_number(request, paginator)
    event = audit.read_event(django_request, status_code=STATUS)
    if size is None or number is None or event is None:
        return None
    offset = (number - 1) * size
    event["user"] = event["user"].pk if event["user"] is not None else None
    event["clinic"] = event.pop("clinic_id")

    shape_name, where_params = shape if shape is not None else (None, ())
    key = None if shape is None else (shape_name, size, offset, select)
    shaped = None if key is None else _shaped.get(key)
    page_query: Query | None = None
    if shaped is not None:
        sql, db = shaped
        count_params = page_params = list(where_params)
    else:
        values_queryset = values() if callable(values) else values
        db = values_queryset.db
        page_query = values_queryset[offset : offset + size].query
        sql, count_params, page_params, kept = _statement(values_queryset.query, page_query, db, select)
        if kept and key is not None and count_params == page_params == list(where_params):
            if len(_shaped) >= _STATEMENTS_MAX:
                _shaped.clear()
            _shaped[key] = (sql, db)
    params = (*count_params, *[event[f] for f in _AUDIT_FIELDS], number, offset, *select_params, *page_params)
    connection = connections[db]
    with connection.cursor() as cursor:
        _execute(connection, cursor, sql, params)
        fetched = cursor.fetchall()
    total, audited = fetched[0][0], fetched[0][1]
    if not audited:  # a page past the last: the generic path answers 404 (and writes no row, as before)
        return None
    django_request.audit_recorded = True
    page_rows = [] if fetched[0][2] is None and len(fetched) == 1 else [r[2:] for r in fetched]

    django_paginator: Paginator = Paginator([], size)
    django_paginator.__dict__["count"] = total  # its cached_property, known from the statement
    paginator.page = Page(page_rows, number, django_paginator)
    paginator.request = request
    paginator.display_page_controls = django_paginator.num_pages > 1 and paginator.template is not None
    return page_rows, page_query, db


def read_page(view, values_queryset) -> list[dict] | None:
    """The page's rows as dicts, its audit row written, or None when the generic path must answer.

    ``view.paginator`` is left as DRF's paginate_queryset leaves it, so get_paginated_response writes the
    same document (count, next, previous links).
    """
    read = _read(view, values_queryset, "page.*", ())
    if read is None:
        return None
    page_rows, page_query, _db = read
    assert page_query is not None
    compiler = page_query.get_compiler(using=values_queryset.db)
    compiler.setup_query()
    names = list(
        page_query.selected or [*page_query.extra_select, *page_query.values_select, *page_query.annotation_select]
    )
    width = compiler.col_count
    dicts = [
        dict(zip(names, row, strict=True)) for row in compiler.results_iter(results=[[r[:width] for r in page_rows]])
    ]
    view.paginator.page.object_list = dicts
    return dicts


# A row version: the transaction that wrote it (xmin, kept by VACUUM FREEZE) and where it lies (ctid).
# No two versions of a row share both: an UPDATE writes a new version elsewhere, and one transaction's
# earlier version of a row stays in place until that transaction has ended.
ROW_VERSION = "row_version"
_ROW_VERSION_SQL = "xmin::text || ':' || ctid::text"
_VERSIONED = "page.id, page.row_version"

# (database, select, its parameters) → (since when, {row id: (row version, the row as ``select`` wrote it)}):
# each web process has PostgreSQL write a row's JSON once per version. The rows are forgotten every
# _TEXTS_SECONDS, so a transaction id that wrapped around could never match an old row version (nor, within
# those minutes, a version of a database restored into a new cluster under running web processes, which
# would need the same row id, transaction id and place).
_texts: dict[tuple, tuple[float, dict[int, tuple[str, tuple]]]] = {}
_TEXTS_MAX = 10_000  # rows per list (about 9 MB of recordings)
_TEXTS_SECONDS = 600.0
# Lists kept: a list's parameters hold the host its links are written at (api/rows.py recording_json_params). Only
# rows written for a host the site names (ALLOWED_HOSTS as given, with no port added; SITE_URL's) are kept: Django
# checks a Host's name, not its port, so a client cycling ports would otherwise fill and thrash every clinic's.
_TEXTS_LISTS_MAX = 16


def _kept_host(request) -> bool:
    host = request.get_host()
    return host == _netloc(settings.SITE_URL) or host in settings.ALLOWED_HOSTS


@functools.lru_cache(maxsize=4)
def _netloc(url: str) -> str:
    return urlparse(url).netloc  # parsed once, not on every list read


def forget_rows() -> None:
    """Empty this process's rows written by PostgreSQL (tests that count the statements writing them)."""
    _texts.clear()


def _versioned(values: QuerySet | Callable[[], QuerySet]) -> Callable[[], QuerySet]:
    def build() -> QuerySet:
        queryset = values() if callable(values) else values
        return queryset.annotate(**{ROW_VERSION: RawSQL(_ROW_VERSION_SQL, ())})

    return build


def read_json_page(
    view, values: QuerySet | Callable[[], QuerySet], select: str, select_params: tuple = (), shape: tuple | None = None
) -> list[tuple] | None:
    """The page's rows as ``select`` writes them (JSON text, see api/rows.py), its audit row written, or None
    when the generic path must answer; ``view.paginator`` as read_page leaves it. ``values`` and ``shape``
    as _read takes them.

    The page's statement reads each row's version; ``select`` runs, in a second statement, only for the
    rows whose version this process has not written yet (most pages of a list that is read often: none).

    Only when the response is JSON written by orjson, which takes the text as it is (DRF's encoder, which
    writes indented JSON, would have to parse it), and the current time zone is UTC, the one PostgreSQL
    writes date-times in here (Python writes them in any other).
    """
    request = view.request
    if not isinstance(request.accepted_renderer, OrjsonRenderer) or "indent=" in (request.accepted_media_type or ""):
        return None
    if not rows.utc(timezone.get_current_timezone()):
        return None
    versioned = _versioned(values)
    read = _read(view, versioned, _VERSIONED, (), shape)
    if read is None:
        return None
    page_rows, _query, db = read
    now = time.monotonic()
    kept = _texts.get((db, select, select_params))
    if not _kept_host(request):
        kept = (now, {})  # written for this answer alone
    elif kept is None or now - kept[0] > _TEXTS_SECONDS or len(kept[1]) > _TEXTS_MAX:
        if kept is None and len(_texts) >= _TEXTS_LISTS_MAX:
            _texts.clear()
        kept = _texts[(db, select, select_params)] = (now, {})
    texts = kept[1]
    out: list[tuple[str, tuple] | None] = []
    missing: dict[int, int] = {}  # row id → its place on the page
    for id_, version in page_rows:
        cached = texts.get(id_)
        if cached is not None and cached[0] == version:
            out.append(cached)
        else:
            missing[id_] = len(out)
            out.append(None)
    if missing:
        queryset = versioned().filter(pk__in=list(missing))
        sql, params = queryset.query.sql_with_params()
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(f"SELECT page.{ROW_VERSION}, {select} FROM ({sql}) AS page", (*select_params, *params))
            written = cursor.fetchall()
        for version, *row in written:
            out[missing[row[0]]] = texts[row[0]] = (version, tuple(row))
    return [row[1] for row in out if row is not None]  # a row deleted since the page was read is left out
