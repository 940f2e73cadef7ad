import hashlib
from datetime import datetime

from django.http import HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from diagnostics import services as diagnostics_services
from ecgsite.errors import PreconditionFailed

from .. import pages
from ..exceptions import ApiError
from ..permissions import IsClinicMember
from ..renderers import OrjsonRenderer

ID_PATTERN = r"[0-9]{1,18}"
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="An ETag from an earlier response; 304 Not Modified if nothing changed.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the resource as last read; 412 precondition_failed if it has changed since.",
)
IF_UNMODIFIED_SINCE = OpenApiParameter(
    "If-Unmodified-Since",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="An HTTP date; 412 precondition_failed if the resource changed after it (If-Match comes first).",
)


def precondition_parameters(resource: str, read: str) -> list[OpenApiParameter]:
    """If-Match and If-Unmodified-Since of a POST that changes ``resource`` ("the recording"), as ``read`` gives it
    ("GET recordings/{id}"): the write is checked under the lock it takes (check_preconditions)."""
    replay = " A retry with the Idempotency-Key of a request already made is answered as that request was, not refused."
    return [
        OpenApiParameter(
            "If-Match",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            required=False,
            description=f"The ETag of {resource} as read ({read}); 412 `precondition_failed` if it has changed since, "
            f"and nothing is written.{replay}",
        ),
        OpenApiParameter(
            "If-Unmodified-Since",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            required=False,
            description=f"An HTTP date (the Last-Modified of {resource} as read, {read}); 412 `precondition_failed` if "
            f"it changed after it (to the second), and nothing is written. If-Match comes first.{replay}",
        ),
    ]


def representation_etag(content: bytes, content_type: str) -> str:
    """The ETag of a response body: the media type is part of the tag (/fhir's JSON and FHIR JSON are two
    representations)."""
    digest = hashlib.sha256(content)
    digest.update(b"\0" + content_type.encode())
    return '"%s"' % digest.hexdigest()[:32]


def check_preconditions(request, representation: dict, modified_at: datetime | None) -> None:
    """A write's preconditions (RFC 9110 13.1.1, 13.1.4): with If-Match it goes ahead only if the resource's
    JSON still has one of the given ETags (``*`` matches any; a tag a proxy marked weak counts), else with
    If-Unmodified-Since only if it has not changed since then; otherwise 412 ``precondition_failed``. Two
    systems editing one patient had each overwritten the other's change without a word.

    Refused as a domain error (PreconditionFailed): called by a service under its lock (a recording's write), the
    refusal lets an idempotent write answer a request with the same key that committed first (idempotent_write)."""
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        if if_match.strip() == "*":
            return
        current = representation_etag(OrjsonRenderer().render(representation), "application/json")
        # The server sends strong tags only: a W/ one is a proxy's mark on one of them (a compressing proxy
        # adds it), still naming this representation
        if current not in {tag.removeprefix("W/") for tag in parse_etags(if_match)}:
            raise PreconditionFailed(
                "The resource has changed since the ETag given in If-Match: read it again, then send the change.",
                field="If-Match",
            )
        return
    since = request.headers.get("If-Unmodified-Since")
    if since is not None and modified_at is not None:
        limit = parse_http_date_safe(since)
        if limit is not None and int(modified_at.timestamp()) > limit:
            raise PreconditionFailed(
                "The resource has changed since the time given in If-Unmodified-Since: read it again, then send "
                "the change.",
                field="If-Unmodified-Since",
            )


def conditional(request) -> bool:
    """Whether the request sends a precondition (If-Match or If-Unmodified-Since) for check_preconditions."""
    return "If-Match" in request.headers or "If-Unmodified-Since" in request.headers


def last_modified(when: datetime | None) -> dict[str, str]:
    """Last-Modified, for a client's If-Unmodified-Since (whole seconds, as HTTP dates and the check count them)."""
    return {"Last-Modified": http_date(when.timestamp())} if when else {}


# The schema of a query parameter ``query_int`` reads: a whole number of at most 18 digits.
WHOLE_NUMBER = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
# The schema of a list's text filter: not empty, nor spaces alone (EMPTY_FILTER).
FILTER_TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}
EMPTY_FILTER = "An empty value filters nothing: give a value, or leave the parameter out."

# Every endpoint's: DRF's format override (``?format=json``).
COMMON_QUERY_PARAMETERS = ("format",)
PAGE_QUERY_PARAMETERS = ("page", "page_size")


# Common to every endpoint: clinic scope, JSON errors, and ETags on reads.
class ApiViewSet(viewsets.GenericViewSet):
    permission_classes = [IsClinicMember]
    lookup_value_regex = ID_PATTERN
    # The query parameters each action reads, by action name; the paginated actions take the page's too. Any
    # other is a validation_error naming it: a misspelt filter (``?flaged=true``) or one an endpoint does not
    # have had been ignored, and the answer was every row (an integration taking the first patient of
    # ``?mrn=...`` took the wrong one). tests/api/test_query_parameters.py holds these to the schema's.
    query_parameters: dict[str, tuple[str, ...]] = {}
    paginated_actions: tuple[str, ...] = ("list",)
    # The writes that take an Idempotency-Key (idempotency_key()); the schema documents the header on them and
    # Idempotent-Replayed on their 201 (api.schema.ApiAutoSchema).
    idempotent_actions: tuple[str, ...] = ()
    # The actions whose answer carries Last-Modified (the schema documents it on their 200 or 201).
    last_modified_actions: tuple[str, ...] = ()
    # POST actions answering 200 with the resource as a read of it gives it (a recording's move): tagged as a PUT's
    # answer is, the client's next If-Match without a read.
    tagged_writes: tuple[str, ...] = ()
    # The serializer each write reads its body with, by action, where it is not serializer_class (what it answers
    # with); None for a write that takes no body. OPTIONS describes it, as the schema's request body does: DRF's
    # describes serializer_class, so a diary entry's POST had been described with the recording's fields.
    request_serializers: dict[str, type[serializers.Serializer] | None] = {}

    def get_serializer_class(self):
        if getattr(self, "action", None) == "metadata":  # OPTIONS, describing each write of the route in turn
            write = self.action_map.get(self.request.method.lower())
            if write in self.request_serializers:
                return self.request_serializers[write] or serializers.Serializer
        return super().get_serializer_class()

    def accepted_query_parameters(self) -> tuple[str, ...]:
        action = getattr(self, "action", None) or ""
        page = PAGE_QUERY_PARAMETERS if action in self.paginated_actions else ()
        return (*self.query_parameters.get(action, ()), *page, *COMMON_QUERY_PARAMETERS)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            return  # the dispatch answers 405: a method the endpoint lacks is not a query's fault
        for name, values in request.query_params.lists():
            if any("\x00" in v for v in values):
                raise ValidationError({name: "The value contains a NUL character."})
        accepted = self.accepted_query_parameters()
        unknown = sorted(name for name in request.query_params if name not in accepted)
        if unknown:
            takes = ", ".join(name for name in accepted if name not in COMMON_QUERY_PARAMETERS) or "none"
            raise ValidationError({unknown[0]: f"unknown query parameter; this request takes {takes}."})
        # A list's filter given empty is refused as a malformed one is: ?patient= had been ignored (every row)
        # while ?mrn= matched none, and an integration whose variable was unset took another patient's rows.
        action = getattr(self, "action", None) or ""
        if action in self.paginated_actions:
            for name in self.query_parameters.get(action, ()):
                if any(not value.strip() for value in request.query_params.getlist(name)):
                    raise ValidationError({name: EMPTY_FILTER})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("GET", "HEAD") and response.status_code == 200 and hasattr(response, "render"):
            response.render()
            etag = representation_etag(response.content, response.get("Content-Type", ""))
            response["ETag"] = etag
            response["Cache-Control"] = "private, no-cache"
            # the answer is gzipped for a client that asks (api.middleware.CompressionMiddleware): a cache keys it so
            patch_vary_headers(response, ("Accept-Encoding",))
            if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
            # weak comparison (RFC 9110 13.1.2): compression (ours or a proxy's) marks the tag weak
            matched = next(
                (tag for tag in parse_etags(if_none_match or "") if tag.removeprefix("W/") == etag),
                etag if if_none_match == "*" else None,
            )
            if matched is not None:
                not_modified = HttpResponseNotModified()
                # the tag of the answer the client holds, weak where it was compressed (RFC 9110 15.4.5: a 304
                # carries the ETag and Vary a 200 would have)
                not_modified["ETag"] = matched
                not_modified["Cache-Control"] = "private, no-cache"
                patch_vary_headers(not_modified, ("Accept-Encoding",))
                return not_modified
        elif (
            (request.method in ("PUT", "PATCH") or getattr(self, "action", None) in self.tagged_writes)
            and response.status_code == 200
            and hasattr(response, "render")
        ):
            # the changed resource's tag, as a read of it would give: the client's next If-Match, without a read
            response.render()
            response["ETag"] = representation_etag(response.content, response.get("Content-Type", ""))
            patch_vary_headers(response, ("Accept-Encoding",))
        return response

    def idempotency_key(self) -> str | None:
        """The request's Idempotency-Key, None without one; 400 ``invalid_idempotency_key`` if malformed."""
        key = self.request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 255 and key.isprintable() and key.isascii()):
            raise ApiError(
                "Idempotency-Key must be 1–255 printable ASCII characters.",
                code="invalid_idempotency_key",
                field="Idempotency-Key",
            )
        return key

    def request_fingerprint(self) -> str:
        """What an Idempotency-Key is held to on a JSON write: the method, the path (without the slash
        TrailingSlashMiddleware forgives) and the body as canonical JSON (a form's single values as values); a
        removal's (DELETE) body is never read, its method and path are the request."""
        if self.request.method == "DELETE":
            return diagnostics_services.idempotency_fingerprint(method="DELETE", path=self.request.path_info, body=None)
        data = self.request.data
        if hasattr(data, "lists"):
            data = {name: values[0] if len(values) == 1 else values for name, values in data.lists()}
        return diagnostics_services.idempotency_fingerprint(
            method=str(self.request.method), path=self.request.path_info, body=data
        )

    def query_int(self, name: str) -> int | None:
        raw = self.request.query_params.get(name)
        if raw in (None, ""):
            return None
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise ValidationError({name: "Expected a positive whole number."})
        return int(raw)

    def query_bool(self, name: str) -> bool | None:
        raw = self.request.query_params.get(name)
        if raw in (None, ""):
            return None
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ValidationError({name: "Expected true or false."})

    def page_of_rows(self, values, to_rows, json=None, shape=None):
        """A list page from a values() queryset (or a function that builds it): ``to_rows`` turns the page's
        dicts into the documented rows. Plain GETs read the page, its count and their audit row in one
        statement (api.pages); with ``json``, (the rows as JSON text in SQL, its parameters, a function of
        the fetched rows giving the results), PostgreSQL writes the rows where it can, and with ``shape``
        the queryset is built only when that statement is compiled (api.pages.read_json_page)."""
        if json is not None:
            select, select_params, to_results = json
            fetched = pages.read_json_page(self, values, select, select_params, shape)
            if fetched is not None:
                return self.get_paginated_response(to_results(fetched))
        values_queryset = values() if callable(values) else values
        page = pages.read_page(self, values_queryset)
        if page is None:
            page = self.paginate_queryset(values_queryset)
        return self.get_paginated_response(to_rows(page))

    def paginated(self, queryset, serializer_class, context: dict | None = None):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
