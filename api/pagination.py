from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.utils.urls import replace_query_param


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        """DRF's, except that a ``page_size`` that is no whole number of 1 or more is refused (400) rather
        than ignored for the default (and carried into the next page's link as it was)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 0 < int(raw[:9] or "0")):
            raise ValidationError({self.page_size_query_param: "Expected a whole number of 1 or more."})
        return super().get_page_size(request)

    invalid_page_message = "Page {page_number} does not exist: {message}."

    def get_page_number(self, request, paginator):
        """DRF's (a whole number, or ``last``), except that anything else is refused (400, naming the
        parameter) rather than answered 404 as if the page were merely past the end."""
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            if not (raw.isascii() and raw.isdigit() and 0 < int(raw[:9] or "0")):
                raise ValidationError({self.page_query_param: "Expected a whole number of 1 or more, or 'last'."})
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        """DRF's, with the bounds the list enforces."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; more than {self.max_page_size} give {self.max_page_size})."
                )
        return parameters

    def get_next_link(self):
        if not self.page.has_next():
            return None
        return self._link(self.page.next_page_number())

    def get_previous_link(self):
        number = self.page.previous_page_number() if self.page.has_previous() else None
        if number is None or number == 1:
            return super().get_previous_link()
        return self._link(number)

    def _link(self, number: int) -> str:
        """DRF's link to page ``number``. A request without a query string (most first pages) has it
        written directly: parsing and writing the URL again cost a tenth of a list read."""
        request = self.request
        assert request is not None  # set by paginate_queryset
        if request.META.get("QUERY_STRING"):
            return replace_query_param(request.build_absolute_uri(), self.page_query_param, number)
        return f"{absolute_url(request)}?{self.page_query_param}={number}"


def absolute_url(request, path: str | None = None) -> str:
    """``request.build_absolute_uri(path)``: the address a client reaches ``path`` (one of reverse()'s, without
    a query string) at, as it reached this request; without ``path``, the request's own (it has no query
    string). Links are written so, as the pages' next and previous are. Kept by scheme, host headers and path:
    writing it cost a tenth of a list read."""
    meta = request.META
    # Everything get_host reads; the host is validated (against ALLOWED_HOSTS) before an address is kept.
    key = (
        request.scheme,
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("HTTP_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
        request.path if path is None else None,
        path,
    )
    address = _paths.get(key)
    if address is None:
        address = request.build_absolute_uri() if path is None else request.build_absolute_uri(path)
        if len(_paths) >= 1024:
            _paths.clear()
        _paths[key] = address
    return address


# The absolute address of a path by scheme and host headers, as build_absolute_uri wrote it.
_paths: dict[tuple, str] = {}
