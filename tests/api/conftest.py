import pytest
from rest_framework.test import APIClient

from api.services import api_token_create


@pytest.fixture
def token_for():
    def _token(user, **kwargs) -> str:
        return api_token_create(user=user, **kwargs)[1]

    return _token


@pytest.fixture
def api_as(token_for):
    """An API client authenticated with a fresh token of ``user``."""

    def _client(user, **kwargs) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user, **kwargs)}")
        return client

    return _client
