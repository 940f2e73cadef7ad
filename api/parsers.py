import io

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from diagnostics.ingestion import json_depth_check
from ecgsite.errors import UploadRefused


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser behind a nesting limit: Python's recursive decoder would raise RecursionError (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read() if stream is not None else b""
        try:
            json_depth_check(data, field="body")
        except UploadRefused as exc:
            raise ParseError(f"JSON parse error - {exc.message}") from None
        return super().parse(io.BytesIO(data), media_type, parser_context)
