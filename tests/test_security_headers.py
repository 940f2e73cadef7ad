"""A strict Content-Security-Policy and a Permissions-Policy on every response, and templates that need no exception."""

import re

import pytest

from .conftest import client_for
from .data import REPO_ROOT


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/", "/api/v1/patients", "/api/v1/docs/", "/admin/login/", "/nowhere"]
)
def test_every_response_carries_the_policies(client, staff_a, path):
    response = client_for(client, staff_a).get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_pages_are_not_kept_by_the_browser_but_static_files_and_api_reads_keep_their_caching(client, staff_a):
    # a page of patient data must not come back from the disk or back/forward cache at a shared computer
    signed_in = client_for(client, staff_a)
    for path in ("/", "/patients/", "/accounts/login/"):
        assert "no-store" in signed_in.get(path)["Cache-Control"], path
    assert signed_in.get("/api/v1/patients")["Cache-Control"] == "private, no-cache"  # ETag revalidation


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_no_template_holds_inline_script_or_style():
    found = [
        f"{path.relative_to(REPO_ROOT)}: {match.group()}"
        for path in (REPO_ROOT / "templates").rglob("*.html")
        for match in INLINE.finditer(path.read_text())
    ]
    assert found == []


def test_no_template_comment_runs_over_lines():
    # Django's {# #} ends at its line: one that runs on is printed on the page as text
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in (REPO_ROOT / "templates").rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{#" in line and "#}" not in line[line.index("{#") :]
    ]
    assert found == []


def test_the_viewer_builds_nodes_instead_of_writing_html():
    assert "innerHTML" not in (REPO_ROOT / "static" / "js" / "ecg-viewer.js").read_text()


@pytest.mark.django_db
def test_the_swagger_page_loads_its_start_up_script_as_a_file(client):
    page = client.get("/api/v1/docs/").content.decode()
    assert '<script src="/api/v1/docs/?script="></script>' in page and "<style" not in page
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
