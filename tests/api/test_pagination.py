"""Page links (api/pagination.py) are the ones DRF's PageNumberPagination writes, whichever way they are made."""

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from api import pagination
from api.pagination import Pagination


def links(paginator_class, path: str, query: dict, **extra) -> tuple:
    request = Request(RequestFactory().get(path, query, **extra))
    paginator = paginator_class()
    paginator.page_size = 2
    paginator.paginate_queryset(list(range(9)), request)
    return paginator.get_next_link(), paginator.get_previous_link()


@override_settings(ALLOWED_HOSTS=["testserver", "ecg.example.org", "[::1]"])
@pytest.mark.parametrize(
    "path, query, extra",
    [
        ("/api/v1/patients", {}, {}),
        ("/api/v1/patients/", {}, {}),
        ("/api/v1/recordings", {"page": "2"}, {}),
        ("/api/v1/recordings", {"page": "3", "status": "done"}, {}),
        ("/api/v1/recordings", {"page_size": "2", "patient": "7"}, {}),
        ("/api/v1/patients", {}, {"HTTP_HOST": "ecg.example.org:8443"}),
        ("/api/v1/patients", {}, {"HTTP_HOST": "[::1]:8000", "wsgi.url_scheme": "https"}),
        ("/api/v1/patients", {}, {"HTTP_HOST": "ecg.example.org", "wsgi.url_scheme": "https"}),
        ("/api/v1/pätients ü", {}, {}),
    ],
)
def test_page_links_are_drfs(path, query, extra):
    pagination._paths.clear()
    for _ in range(2):  # the first request keeps the address, the second uses it
        assert links(Pagination, path, query, **extra) == links(PageNumberPagination, path, query, **extra)


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_host_that_is_not_allowed_is_refused_as_before():
    from django.core.exceptions import DisallowedHost

    with pytest.raises(DisallowedHost):
        links(Pagination, "/api/v1/patients", {}, HTTP_HOST="evil.example.com")
    assert not any("evil.example.com" in key for key in pagination._paths)
