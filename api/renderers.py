import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_drf = JSONEncoder()


def _default(value):
    # What orjson does not write itself, or would write differently from DRF (date-times, Decimal,
    # lazy strings, numpy values): as DRF's encoder does.
    return _drf.default(value)


class OrjsonRenderer(JSONRenderer):
    """application/json through orjson: the same documents as DRF's JSONRenderer, several times faster."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if accepted_media_type and "indent=" in accepted_media_type:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return orjson.dumps(
                data, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
            )
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits: the standard library's way
            return super().render(data, accepted_media_type, renderer_context)
