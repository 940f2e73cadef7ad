"""Playwright (Python) driving Debian's Chromium against pytest-django's live server.

Our machines reach package registries only, so Playwright cannot download its own browser:
the tests launch the system Chromium (``CHROMIUM`` overrides its path).
"""

import os
from pathlib import Path

import pytest

from ..conftest import PASSWORD
from ..data import REPO_ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread while it runs; the tests' own ORM calls are
    # still synchronous, so Django's async-safety check is lifted for as long as the browser is open.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                ],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(20_000)
    violations: list[str] = []
    context.expose_binding("reportCspViolation", lambda source, text: violations.append(text))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.js_errors = errors
    page.csp_violations = violations
    yield page
    context.close()
    assert violations == [], "Chromium reported Content-Security-Policy violations"


@pytest.fixture
def no_script_page(browser, live_server):
    """A page of a browser whose JavaScript is off (a clinic's locked-down browser), at a desk's width."""
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP, base_url=live_server.url)
    yield context.new_page()
    context.close()


# Every document reports what the Content-Security-Policy blocked, before any of its own scripts run.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', e => window.reportCspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || location.pathname}:${e.lineNumber}`));"""


@pytest.fixture(scope="session")
def _fresh_artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()


@pytest.fixture
def shot(_fresh_artifacts):
    """Write a screenshot as test-artifacts/NN-step.png."""

    def _shot(page, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    _shot.dir = ARTIFACTS
    return _shot


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def upload_signal(page, patient, files: list) -> None:
    """Upload a continuous signal's files for ``patient`` through the page, as the signed-in user."""
    page.goto(f"/patients/{patient.pk}/recordings/new/")
    page.get_by_label("Continuous signal").check()
    page.get_by_label("File(s)").set_input_files([str(f) for f in files])
    page.get_by_role("button", name="Upload and classify").click()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/**")


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, canvas[tabindex], a[href]')]
  .filter(el => el.offsetParent !== null)
  .filter(el => !((el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                  || (el.textContent || '').trim() || el.getAttribute('title')))
  .map(el => el.outerHTML.slice(0, 120))"""


def assert_controls_labelled(page) -> None:
    """Every visible control has an accessible name (a label, aria-label or text)."""
    assert page.evaluate(UNLABELLED_CONTROLS) == []


LOW_CONTRAST_TEXT = """() => {
  const rgb = s => { const m = s.match(/[\\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
  const lum = c => [c.r, c.g, c.b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
                                  .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0.9) return c; }
                              return {r: 255, g: 255, b: 255, a: 1}; };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.offsetParent === null || el.closest('button:disabled, .visually-hidden')) continue;
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(el), fg = lum(rgb(style.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)} "${el.textContent.trim().slice(0, 30)}"`);
  }
  return bad;
}"""


def assert_accessible(page) -> None:
    """Labelled controls and text contrast of at least 4.5:1 (3:1 for large text), as WCAG AA asks."""
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(LOW_CONTRAST_TEXT) == []
