import re

import orjson
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.utils.mediatypes import _MediaType

_drf = JSONEncoder()


def _default(value):
    # What orjson does not write itself, or would write differently from DRF (date-times, Decimal,
    # lazy strings, numpy values): as DRF's encoder does.
    return _drf.default(value)


_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(data) -> bytes:
    """``data`` as OrjsonRenderer writes it, or as DRF would where orjson cannot."""
    try:
        return orjson.dumps(data, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits: the standard library's way
        return JSONRenderer().render(data)


class OrjsonRenderer(JSONRenderer):
    """application/json through orjson: the same documents as DRF's JSONRenderer, several times faster.

    Its documents may hold orjson.Fragment values, JSON text written elsewhere (api/pages.py
    read_json_page), which only orjson can write: such a document is never rendered indented."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if accepted_media_type and "indent=" in accepted_media_type:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return orjson.dumps(data, default=_default, option=_OPTIONS)
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits: the standard library's way
            return super().render(data, accepted_media_type, renderer_context)


_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{0,9})?")


def _quality(media_range: _MediaType) -> float:
    """A range's q (RFC 9110 12.4.2: 0 to 1, more taken as 1); 1 when it has none or one that is no number (as
    DRF, which read none)."""
    raw = str(media_range.params.get("q", "1")).strip()
    return min(float(raw), 1.0) if _DECIMAL.fullmatch(raw) else 1.0


def _matches(media_type: _MediaType, media_range: _MediaType) -> bool:
    """Whether ``media_range`` (``*/*``, ``type/*`` or a type, its parameters other than q held to the type's)
    names ``media_type``; without case, as media types compare."""
    main, sub = media_range.main_type.strip().lower(), media_range.sub_type.strip().lower()
    return (
        main in ("*", media_type.main_type.lower())
        and sub in ("*", media_type.sub_type.lower())
        and (main != "*" or sub == "*")
        and all(media_range.params.get(k) == v for k, v in media_type.params.items() if k != "q")
    )


def quality(ranges: list[_MediaType], media_type: str) -> tuple[float, _MediaType | None]:
    """The q the Accept ranges give ``media_type``, and the range that gives it: the most specific of those that
    name it (RFC 9110 12.5.1: ``application/json;q=0, */*`` refuses JSON); (0, None) when none does."""
    wanted = _MediaType(media_type)
    chosen = None
    for media_range in ranges:
        if _matches(wanted, media_range) and (chosen is None or media_range.precedence > chosen.precedence):
            chosen = media_range
    return (_quality(chosen), chosen) if chosen is not None else (0.0, None)


def accept_ranges(request) -> list[_MediaType]:
    """The media ranges of the request's Accept header (``*/*`` without one), as negotiation reads them."""
    return [_MediaType(token) for token in DefaultContentNegotiation().get_accept_list(request)] or [_MediaType("*/*")]


def accepts(request, media_type: str) -> bool:
    """Whether the request's Accept header admits ``media_type`` with a q above 0."""
    return quality(accept_ranges(request), media_type)[0] > 0


class JsonFirstNegotiation(DefaultContentNegotiation):
    """Content negotiation by the Accept header's q-values (RFC 9110 12.5.1): each renderer's type takes the q
    of the most specific range naming it; q=0 is not acceptable (406), and of the acceptable types the highest
    q wins (equal ones: the more specific range, then the route's order). DRF's went by specificity alone and
    never read q, so ``application/json;q=0`` was answered JSON.

    A client that states no preference (no Accept header or ``*/*``, no ``?format=``) gets the first
    renderer without negotiating, as DRF would give it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*").strip()
        format_given = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if accept in ("", "*/*") and not format_given:
            return renderers[0], renderers[0].media_type
        if format_given:
            renderers = self.filter_renderers(renderers, format_given)
        ranges = accept_ranges(request)
        best = None
        for order, renderer in enumerate(renderers):
            q, media_range = quality(ranges, renderer.media_type)
            if media_range is None or q <= 0:
                continue
            rank = (q, media_range.precedence, -order)
            if best is None or rank > best[0]:
                best = (rank, renderer, media_range)
        if best is None:
            raise NotAcceptable(available_renderers=renderers)
        _rank, renderer, media_range = best
        # the range's parameters (``indent=2``) but not its q, which is no parameter of the type answered
        parameters = [f"{key}={value}" for key, value in media_range.params.items() if key != "q"]
        return renderer, "; ".join([renderer.media_type, *parameters])

    def filter_renderers(self, renderers, format):
        """The renderers of ``?format=``; none is 406 naming what is written (DRF answered 404 "Not found.",
        which a client reads as the resource being gone)."""
        kept = [renderer for renderer in renderers if renderer.format == format]
        if not kept:
            known = ", ".join(dict.fromkeys(renderer.format for renderer in renderers))
            raise NotAcceptable(f"format {str(format)[:50]!r} is not served here; ask for {known}.")
        return kept


class CsvRenderer(BaseRenderer):
    """Names text/csv for negotiation (``Accept: text/csv``, ``?format=csv``); the view streams the CSV itself,
    and its errors are rendered as JSON (api.views.recordings.RecordingViewSet.handle_exception)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return dumps(data)


FHIR_JSON = "application/fhir+json"
# FHIR's ``_format`` values for JSON (FHIR R4 3.1.0.1.9): each means FHIR JSON. A "+" sent unencoded
# arrives as a space.
FHIR_JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/fhir json"}


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON


class FhirNegotiation(JsonFirstNegotiation):
    """For FHIR routes: FHIR's ``_format`` parameter, as FHIR clients send it, overrides the Accept header
    (``json``, ``application/json`` or ``application/fhir+json``: FHIR JSON; anything else 406). Without
    it, negotiation as everywhere (Accept, DRF's ``?format=``)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = request.query_params.get("_format")
        if wanted is None:
            return super().select_renderer(request, renderers, format_suffix)
        if wanted.strip().lower() in FHIR_JSON_FORMATS:
            for renderer in renderers:
                if renderer.media_type == FHIR_JSON:
                    return renderer, renderer.media_type
        raise NotAcceptable(f"_format {wanted[:50]!r} is not served; ask for json or {FHIR_JSON}.")
