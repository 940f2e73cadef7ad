import hmac
import re

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import ApiToken
from .services import TOKEN_PREFIX_LENGTH, api_token_touch, token_hash

_PREFIX = re.compile(f"[0-9a-f]{{{TOKEN_PREFIX_LENGTH}}}")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <prefix>.<secret>``; the prefix finds the row, the hash is compared in constant time."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header; expected 'Token <token>'."))
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        prefix, _sep, _rest = secret.partition(".")
        token = None
        if _PREFIX.fullmatch(prefix) and _sep:
            token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.key_hash, token_hash(secret)):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.is_usable:
            raise exceptions.AuthenticationFailed(_("The token has expired or was revoked."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("The token's user is inactive."))
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
