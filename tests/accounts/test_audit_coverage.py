"""The promise of accounts/audit.py: every route is either audited or declared not to touch a record."""

from accounts.audit import AUDITED_ROUTES, NOT_AUDITED_ROUTES

from ..test_permission_matrix import all_routes

# The Django admin records its own changes (LogEntry); its model-version actions are audited there.
OWN_TRAIL_NAMESPACES = {"admin"}


def routes_to_account_for() -> set[str]:
    return {r for r in all_routes() if r.split(":")[0] not in OWN_TRAIL_NAMESPACES or ":" not in r}


def test_every_route_is_audited_or_declared_not_to_touch_clinical_records():
    undecided = routes_to_account_for() - set(AUDITED_ROUTES) - NOT_AUDITED_ROUTES
    assert not undecided, f"routes neither in AUDITED_ROUTES nor in NOT_AUDITED_ROUTES: {sorted(undecided)}"


def test_no_route_is_both_audited_and_not_audited():
    assert set(AUDITED_ROUTES) & NOT_AUDITED_ROUTES == set()


def test_the_audit_lists_name_only_routes_that_exist():
    routes = set(all_routes())
    assert set(AUDITED_ROUTES) - routes == set() and NOT_AUDITED_ROUTES - routes == set()
