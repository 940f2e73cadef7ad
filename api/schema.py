from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from .serializers import ErrorSerializer

ERRORS = {
    "400": "Invalid request; the message names the field, row or column",
    "401": "No valid token (send Authorization: Token <token>)",
    "403": "Your role may not do this",
    "404": "No such object in your clinic",
    "409": "Conflict with the current state",
    "413": "Too large",
    "415": "Unsupported content or file type",
    "429": "Too many requests for this token",
}
READ_ERRORS = ("400", "401", "403", "404", "429")


class ApiAutoSchema(AutoSchema):
    """Documents the JSON error body for every status an operation can answer, and 304 for reads."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = READ_ERRORS + ("409",) if self.method == "GET" else tuple(ERRORS)
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code]["description"] = ERRORS[code]
        if self.method == "GET":
            responses["304"] = {"description": "Not modified since the ETag sent in If-None-Match"}
        return responses


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
