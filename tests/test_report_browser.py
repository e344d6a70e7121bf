"""report.html opened in a real headless Chromium (Debian's package, driven by playwright): every figure loads,
every table renders, nothing is fetched from the network and the console stays clean."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

from bench import report
from helpers.results import write_sweep

N_BOOT = "200"
# a laptop screen
VIEWPORT = {"width": 1366, "height": 768}


def chromium() -> str:
    """The system's Chromium; skipped only where it is not installed (CI installs it, see .ci/run)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: .ci/run installs Debian's chromium")
        pytest.skip("no chromium on this machine: apt-get install -y chromium")
    return path


@pytest.mark.slow
def test_report_html_renders_in_chromium_with_every_figure_and_table_and_no_network(tmp_path):
    browser_path = chromium()
    sweep = tmp_path / "sweep"
    finals = {
        "forward": {0: 0.80, 1: 0.82, 2: 0.81},
        "backward": {0: 0.70, 1: 0.72, 2: 0.71},
        "bidirectional-sum": {0: 0.90, 1: 0.91, 2: 0.93},
    }
    write_sweep(sweep, finals, lengths=range(5, 9))
    assert report.main([str(sweep), "--n-boot", N_BOOT]) == 0
    page_file = sweep / "report" / "report.html"

    console, errors, requests = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.on("console", lambda message: console.append((message.type, message.text)))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img",
            "images => images.map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,"
            " height: i.naturalHeight, shown: i.getBoundingClientRect().width, src: i.src.slice(0, 21)}))",
        )
        tables = page.eval_on_selector_all(
            "table",
            "tables => tables.map(t => ({header: t.tHead ? t.tHead.rows[0].cells.length : 0,"
            " rows: t.tBodies[0] ? t.tBodies[0].rows.length : 0, height: t.getBoundingClientRect().height,"
            " scrolls: getComputedStyle(t.parentElement).overflowX === 'auto'}))",
        )
        page_width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "report-laptop.png"))
        page.screenshot(path=str(tmp_path / "report-full.png"), full_page=True)
        browser.close()

    figures = sorted((sweep / "report").glob("*.png"))
    assert len(images) == len(figures) >= 4
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
        assert image["src"] == "data:image/png;base64", image
        assert image["shown"] > 0, image
    assert tables and all(table["header"] > 0 and table["rows"] > 0 and table["height"] > 0 for table in tables)
    # a wide table scrolls in its own box instead of widening the page
    assert all(table["scrolls"] for table in tables) and page_width <= VIEWPORT["width"]
    assert requests == [page_file.as_uri()]  # the page itself; figures are inline data
    assert errors == [] and [m for m in console if m[0] in ("error", "warning")] == []
    assert (tmp_path / "report-laptop.png").stat().st_size > 0 and (tmp_path / "report-full.png").stat().st_size > 0
