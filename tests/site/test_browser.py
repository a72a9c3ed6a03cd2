"""The course's HTML pages, opened in headless Chromium as a student would open them.

Every page of the build: every <img> decoded with a non-zero size, every plotly figure drawn (an
SVG with traces), no JavaScript console errors, nothing loaded from the network, every local link
and anchor resolves. One screenshot per page goes to ``<build>/screens/`` for a person to look at.

Needs Chromium and its driver from the distribution (Debian: ``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them) and selenium. Without Chromium the tests are skipped,
except in CI (``CI=true``), where they fail.
"""

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
               None)
DRIVER = shutil.which("chromedriver")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
if not (BROWSER and DRIVER):
    reason = "needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)"
    if IN_CI:
        pytest.fail(f"CI=true but the browser test cannot run: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

if IN_CI:
    from selenium import webdriver
else:
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="needs selenium (pip install selenium)")

# Run in the page once it has loaded; returns what a student would miss.
INSPECT = """
const drawn = d => d.querySelector('svg.main-svg') !== null
    && d.querySelectorAll('g.trace, g.hm, g.imagelayer image').length > 0;
return {
  brokenImages: Array.from(document.images)
      .filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0))
      .map(i => (i.getAttribute('alt') || '') + ' ' + i.src.slice(0, 60)),
  images: document.images.length,
  undrawnPlots: Array.from(document.querySelectorAll('.plotly-graph-div'))
      .filter(d => !drawn(d)).map(d => d.id),
  plots: document.querySelectorAll('.plotly-graph-div').length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  ids: Array.from(document.querySelectorAll('[id], a[name]'))
      .map(e => e.id || e.getAttribute('name')),
  network: performance.getEntriesByType('resource').map(r => r.name)
      .filter(n => !n.startsWith('file:') && !n.startsWith('data:')),
  height: document.documentElement.scrollHeight,
};
"""


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--allow-file-access-from-files"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _link_problem(page: Path, href: str, ids: set[str]) -> str | None:
    parts = urlsplit(href)
    if parts.scheme in ("http", "https", "mailto"):
        return None  # the course is read offline; external links are not followed
    if parts.scheme or parts.netloc:
        return f"link {href!r}: not a relative link"
    target = page if not parts.path else (page.parent / unquote(parts.path))
    if not target.exists():
        return f"link {href!r}: {target.name} does not exist"
    # A browser looks for the fragment as written, then percent-decoded (nbconvert's ids are
    # encoded).
    if parts.fragment and target == page and not {parts.fragment, unquote(parts.fragment)} & ids:
        return f"link {href!r}: no element with that id on the page"
    return None


def check_page(driver, page: Path, screenshot: Path | None = None) -> tuple[list[str], dict]:
    """Open ``page`` and return (problems a student would see, what the page holds)."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(page.resolve().as_uri())
    found = driver.execute_script(INSPECT)
    problems = [f"image not decoded: {image}" for image in found["brokenImages"]]
    problems += [f"plotly figure not drawn: #{div}" for div in found["undrawnPlots"]]
    problems += [f"loaded from the network: {url}" for url in found["network"]]
    problems += [f"console {entry['level']}: {entry['message'][:200]}"
                 for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    ids = set(found["ids"])
    problems += [p for href in found["links"] if (p := _link_problem(page, href, ids))]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1280, min(found["height"], 16000))
        driver.save_screenshot(str(screenshot))
        driver.set_window_size(1280, 1000)
    return problems, found


def _pages(site: Path) -> list[Path]:
    return [site / "index.html"] + sorted(p for p in site.glob("*.html") if p.name != "index.html")


def test_every_page_renders_in_a_browser(browser, course_site, executed_notebooks):
    pages = _pages(course_site)
    assert {p.stem for p in pages} >= set(executed_notebooks), "a notebook has no HTML page"
    report = {}
    for page in pages:
        problems, found = check_page(browser, page, course_site / "screens" / f"{page.stem}.png")
        assert found["images"] + found["plots"] > 0, f"{page.name} shows no figure at all"
        if problems:
            report[page.name] = problems
    assert not report, "\n".join(f"{name}:\n  " + "\n  ".join(p) for name, p in report.items())
    assert (course_site / "plotly.min.js").exists()
    assert not any("cdn.plot.ly" in p.read_text(encoding="utf-8") for p in pages)


def test_check_catches_a_broken_page(browser, course_site, tmp_path):
    """Break pages on purpose: the check must say so (it is not a check that always passes)."""
    broken = tmp_path / "site"
    shutil.copytree(course_site, broken, ignore=shutil.ignore_patterns("screens", "*.ipynb"))
    page = broken / "01_convolution_by_hand.html"
    text = page.read_text(encoding="utf-8")
    marker = 'src="data:image/png;base64,'  # the first figure (the page's CSS has data URLs too)
    start = text.index(marker) + len(marker)
    text = text[:start] + "bm90IGEgcG5n" + text[text.index('"', start):]  # "not a png"
    page.write_text(text.replace('href="index.html"', 'href="missing.html"', 1), encoding="utf-8")
    (broken / "thumbs" / "02_padding_stride_pooling.png").unlink()

    problems, _ = check_page(browser, page)
    assert any(p.startswith("image not decoded") for p in problems), problems
    assert any("missing.html does not exist" in p for p in problems), problems
    index_problems, _ = check_page(browser, broken / "index.html")
    assert any("02_padding_stride_pooling" in p for p in index_problems), index_problems

    page = broken / "03_mnist_convnet_vs_mlp.html"  # its plotly figures, without plotly.js
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace('<script src="plotly.min.js"></script>', ""), encoding="utf-8")
    problems, found = check_page(browser, page)
    not_drawn = [p for p in problems if p.startswith("plotly figure not drawn")]
    assert found["plots"] > 0 and len(not_drawn) == found["plots"]
    assert any(p.startswith("console SEVERE") and "Plotly is not defined" in p
               for p in problems), problems
