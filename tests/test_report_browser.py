"""The report opens in headless Chromium: no console errors, MathML equations, every figure loads.

Needs the Debian packages chromium and chromium-driver (installed by .ci/run); skips with the
reason when they are absent. The screenshot is saved in the test's tmp folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from report_build_helper import built_report

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and Path(p).exists()), None)
CHROMEDRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver") or "")
                     if p and Path(p).exists()), None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("headless browser test needs chromium and chromedriver "
                    "(Debian packages chromium, chromium-driver); not found")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1200,2000", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def loaded(browser):
    out, _ = built_report()
    browser.get((out / "report.html").resolve().as_uri())
    # document.readyState is complete after every data-URI image has been decoded or failed
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return browser


def test_screenshot_and_no_console_errors(loaded, tmp_path):
    shot = tmp_path / "report.png"
    assert loaded.save_screenshot(str(shot)), "screenshot failed"
    assert shot.stat().st_size > 10_000
    body_h = loaded.execute_script("return document.body.scrollHeight")
    loaded.set_window_size(1200, min(int(body_h), 12000))
    loaded.save_screenshot(str(tmp_path / "report_full.png"))
    logs = loaded.get_log("browser")
    severe = [e for e in logs if e.get("level") == "SEVERE"]
    assert not severe, f"console errors: {severe}"


def test_equations_are_rendered_mathml(loaded):
    info = loaded.execute_script(
        """
        const ms = Array.from(document.getElementsByTagName('math'));
        return ms.map(m => {const r = m.getBoundingClientRect();
                            return [m.namespaceURI, r.width, r.height, m.querySelectorAll('*').length];});
        """
    )
    assert len(info) >= 5, f"expected the ledger's equations as <math> elements, found {len(info)}"
    for ns, w, h, n in info:
        assert ns == "http://www.w3.org/1998/Math/MathML"
        assert n > 0
        assert w > 0 and h > 0, "a <math> element rendered with zero size"
    # MathML Core layout: a fraction is taller than a single line of text
    fr = loaded.execute_script(
        "const f = document.querySelector('math mfrac');"
        "return f ? f.getBoundingClientRect().height : null;")
    line = loaded.execute_script(
        "const p = document.querySelector('main p');"
        "return parseFloat(getComputedStyle(p).fontSize);")
    if fr is not None:
        assert fr > line, "an mfrac is not laid out as a fraction (MathML not rendered)"


def test_every_image_loads(loaded):
    imgs = loaded.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt]);")
    assert len(imgs) >= 3, f"expected the report's figures, found {len(imgs)} <img>"
    broken = [alt for complete, w, alt in imgs if not complete or w == 0]
    assert not broken, f"images that did not load: {broken}"
    srcs = loaded.execute_script("return Array.from(document.images).map(i => i.src.slice(0, 22));")
    assert all(s.startswith("data:image/png;base64,") for s in srcs), "figures must be embedded"


def test_no_external_assets_or_scripts(loaded):
    n_scripts = loaded.execute_script("return document.scripts.length")
    assert n_scripts == 0
    ext = loaded.execute_script(
        "return Array.from(document.querySelectorAll('[src],link[href]'))"
        ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
        ".filter(u => !u.startsWith('data:') && !u.startsWith('#'));")
    assert ext == []
