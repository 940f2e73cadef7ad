import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from .serializers import ErrorSerializer

ERRORS = {
    "400": "Invalid request; the message names the field, row or column",
    "401": "No valid token (send Authorization: Token <token>)",
    "403": "Your role may not do this",
    "404": "No such object in your clinic",
    "409": "Conflict with the current state",
    "412": "Changed since the ETag in If-Match (or the time in If-Unmodified-Since)",
    "406": "The Accept header or ?format= names no type this endpoint writes (or refuses each with q=0)",
    "413": "Too large",
    "415": "Unsupported content or file type",
    "429": "Too many requests for this token",
    "503": "The upload could not be stored (the storage full or failing); nothing of it was kept: send it again later",
}
READ_ERRORS = ("400", "401", "403", "404", "406", "429")
# A removal (DELETE) reads no body, so neither 413 nor 415, and has no conflict with the resource to answer: an entry
# removed already is 404. Its 400 is a query parameter it does not take (or a malformed Idempotency-Key); 412, its
# If-Match or If-Unmodified-Since; 409 only where it takes an Idempotency-Key, one used for another request.
REMOVE_ERRORS = (*READ_ERRORS, "412")

# Response headers the API sends (api.views.base.ApiViewSet.finalize_response, RecordingViewSet._created, DRF's
# throttling), documented where they are sent (as components/headers, referred to by name).
HEADERS = {
    "ETag": {
        "description": (
            "The representation's tag; send it back in If-None-Match to get 304 if nothing changed, or in If-Match "
            "with a change of a patient, a recording or a diagnosis (a move, a signature, a review) to have it "
            "refused if another system changed it since."
        ),
        "required": True,
        "schema": {"type": "string"},
    },
    "Last-Modified": {
        "description": (
            "When the resource last changed, in whole seconds (a patient's or a recording's `updated_at`; a "
            "diagnosis's creation, latest review, or latest beat correction, undoing or rhythm recomputation); send "
            "it in If-Unmodified-Since with a change."
        ),
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": "`private, no-cache`", "required": True, "schema": {"type": "string"}},
    "Location": {
        "description": "The new resource's absolute URL (a recording's is its `links.self`).",
        "required": True,
        "schema": {"type": "string", "format": "uri"},
    },
    "Idempotent-Replayed": {
        "description": (
            "`true` when an earlier request with the same Idempotency-Key made what this answer names (or removed "
            "it: a DELETE's 204): the first answer again, and nothing made, removed or notified twice (a recording's move answers with the recording as it "
            "now is, which a later move may have changed: its `links.moves` lists each)."
        ),
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": (
            "Seconds to wait before sending again: 429, until the token's rate window lets requests through; 503, "
            "a minute for the storage to recover."
        ),
        "schema": {"type": "integer", "minimum": 0},
    },
    "Content-Disposition": {
        "description": 'Sent as an attachment: `attachment; filename="recording-<id>-beats.csv"`.',
        "required": True,
        "schema": {"type": "string"},
    },
}

# The request header of the writes that take one (ApiViewSet.idempotent_actions).
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 255 printable ASCII characters chosen by the client, e.g. a UUID, so a retry is safe: the same key "
        "with the same request returns the first answer (its status, `Idempotent-Replayed: true`; a move's, the "
        "recording as it now is) and makes or removes nothing; "
        "with another request (another body or endpoint) it is 409 `idempotency_key_reused`. A refused request "
        "leaves the key unused; a key is remembered for the installation's API_IDEMPOTENCY_KEY_HOURS (24 by "
        "default)."
    ),
)


class ApiAutoSchema(AutoSchema):
    """Documents the JSON error body for every status an operation can answer, 304 for reads, and the response
    headers the API sends."""

    def _streams_csv(self) -> bool:
        # recordings/{id}/export.csv: a streamed CSV (no ETag, so never 304) and errors always JSON
        # (RecordingViewSet.handle_exception), whatever the client accepts
        return getattr(self.view, "action", None) == "export_csv"

    def _get_format_parameters(self):
        # export.csv answers CSV only (it goes by Accept; a ?format= other than csv is 406): the parameter would mislead
        return [] if self._streams_csv() else super()._get_format_parameters()

    def _is_webhook(self) -> bool:
        # a webhook's notice (api.webhook_schema) is drawn through a stand-in view: the receiver's answers are its own
        from .views.base import ApiViewSet

        return not isinstance(self.view, ApiViewSet)

    def _takes_idempotency_key(self) -> bool:
        return getattr(self.view, "action", None) in getattr(self.view, "idempotent_actions", ())

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        return [*parameters, IDEMPOTENCY_KEY] if self._takes_idempotency_key() else parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._is_webhook():
            return responses
        removal = (*REMOVE_ERRORS, "409") if self._takes_idempotency_key() else REMOVE_ERRORS
        codes = {"GET": (*READ_ERRORS, "409"), "DELETE": removal}.get(self.method, tuple(ERRORS))
        if not self._takes_preconditions():  # If-Match, If-Unmodified-Since (check_preconditions)
            codes = tuple(code for code in codes if code != "412")
        if not (getattr(self.view, "action", None) == "create" and self._is_recordings()):  # an upload's storage
            codes = tuple(code for code in codes if code != "503")
        media_types = ["application/json"] if self._streams_csv() else None
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, media_types=media_types, direction=direction
                )
                responses[code]["description"] = ERRORS[code]
        if self.method == "GET" and not self._streams_csv():
            responses["304"] = {
                "description": "Not modified since the ETag sent in If-None-Match",
                "headers": self._headers("ETag", "Cache-Control"),
            }
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response") -> dict:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if self._is_webhook():
            return headers
        names: tuple[str, ...] = ()
        action = getattr(self.view, "action", None)
        if status_code == "200" and self.method == "GET":
            names = ("Content-Disposition",) if self._streams_csv() else ("ETag", "Cache-Control")
        elif status_code == "200" and self.method == "POST" and self._takes_idempotency_key():
            names = ("Idempotent-Replayed",)  # a write that answers with what it changed (a recording's move)
            # as a read would give it (ApiViewSet.finalize_response)
            names += ("ETag",) if action in getattr(self.view, "tagged_writes", ()) else ()
        elif status_code == "200" and self.method in ("PUT", "PATCH"):
            names = ("ETag",)  # the changed resource's, as a read would give it (ApiViewSet.finalize_response)
        elif status_code == "201":
            # every create names what it made (an interpretation has no URL of its own)
            names = ("Location",) if getattr(self.view, "action", None) == "create" else ()
            names += ("Idempotent-Replayed",) if self._takes_idempotency_key() else ()
        elif status_code == "204" and self._takes_idempotency_key():
            names = ("Idempotent-Replayed",)  # a removal retried with its key
        elif status_code in ("429", "503"):
            names = ("Retry-After",)
        if status_code in ("200", "201") and action in getattr(self.view, "last_modified_actions", ()):
            names += ("Last-Modified",)
        return {**self._headers(*names), **headers}

    def _headers(self, *names: str) -> dict:
        """References to HEADERS' entries, each registered as a component (components/headers) on first use."""
        refs = {}
        for name in names:
            component = ResolvedComponent(name=name, type=ResolvedComponent.HEADER, schema=HEADERS[name], object=name)
            self.registry.register_on_missing(component)
            refs[name] = component.ref
        return refs

    def _takes_preconditions(self) -> bool:
        return any(
            isinstance(parameter, OpenApiParameter) and parameter.name == "If-Match"
            for parameter in self.get_override_parameters()
        )

    def _is_recordings(self) -> bool:
        from .views.recordings import RecordingViewSet

        return isinstance(self.view, RecordingViewSet)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`; tokens are created by administrators (admin or `manage.py create_api_token`).",
        }


# --- postprocessing (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) ---------------------------------------------


def _null_allowed(schema: dict) -> dict:
    """``schema`` with ``nullable: true`` written as OpenAPI 3.1 (JSON Schema) does: null among its types."""
    schema = dict(schema)
    del schema["nullable"]
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = types if "null" in types else [*types, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            schema[combinator] = [*schema[combinator], {"type": "null"}]
            return schema
    if "allOf" in schema:
        schema["oneOf"] = [{"allOf": schema.pop("allOf")}, {"type": "null"}]
        return schema
    if "$ref" in schema:
        schema["oneOf"] = [{"$ref": schema.pop("$ref")}, {"type": "null"}]
        return schema
    return schema  # no constraint at all: null is allowed already


def _nullable_as_3_1(node):
    """OpenAPI 3.1 has no ``nullable``; drf-spectacular converts its own, not those in schemas given as dicts
    (a paginator's ``next`` and ``previous``, extend_schema_field dicts), which a 3.1 validator then reads as
    not allowing null."""
    if isinstance(node, list):
        return [_nullable_as_3_1(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_as_3_1(value) for key, value in node.items()}
    if isinstance(node.get("nullable"), bool):
        if node["nullable"]:
            return _null_allowed(node)
        del node["nullable"]
    return node


def postprocess(result, generator, request, public):
    """Makes the schema one that strict validators and client generators take:

    - under OpenAPI 3.1, any ``nullable`` left is written as a null type (``_nullable_as_3_1``);
    - every operationId is a plain identifier: ``recordings_export.csv_retrieve`` (from the path
      ``export.csv``) stops some code generators, so any other character becomes ``_``;
    - each webhook carries its signature headers (drf-spectacular draws none for a webhook)."""
    if str(result.get("openapi", "")).startswith("3.1"):
        result["paths"] = _nullable_as_3_1(result.get("paths", {}))
        components = result.get("components", {})
        if "schemas" in components:
            components["schemas"] = _nullable_as_3_1(components["schemas"])
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["operationId"] = re.sub(r"[^A-Za-z0-9_]", "_", operation["operationId"])
    from .webhook_schema import SIGNATURE_HEADERS

    for item in result.get("webhooks", {}).values():  # each notice's signature headers
        item["post"]["parameters"] = SIGNATURE_HEADERS
    return result
