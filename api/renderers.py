import orjson
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

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


class JsonFirstNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, skipped where its answer is known: a client that states no preference (no
    Accept header or ``*/*``, no ``?format=``) gets the first renderer, as DRF would give it. Any other
    Accept header is negotiated as before (406 for what no renderer writes)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*").strip()
        if (
            accept in ("", "*/*")
            and not format_suffix
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)

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
