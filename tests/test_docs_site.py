"""The documentation site as a reader meets it: built strict, served over HTTP, and opened in
headless Chromium (Debian's package). Screenshots go to the test's temporary folder only."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import ROOT
from .debian import apt_install

WAIT = 30.0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site built as `make docs` builds it, served on loopback; yields its address."""
    built = tmp_path_factory.mktemp("site")
    config = ["--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(built)]
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", *config],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    handler = functools.partial(QuietHandler, directory=str(built))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    apt_install(["chromium", "chromium-driver"], ["chromium", "chromedriver"], "headless Chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT)


def test_the_model_reference_renders_every_series_field_with_its_tag(
    site: str, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(f"{site}/reference/models/")
    heading = _wait(browser).until(
        expected_conditions.visibility_of_element_located((By.ID, "series"))
    )
    assert heading.text.startswith("Series")
    table = heading.find_element(By.XPATH, "following::table[1]")
    rows = {
        cells[0].text: [cell.text for cell in cells]
        for cells in (
            row.find_elements(By.TAG_NAME, "td") for row in table.find_elements(By.TAG_NAME, "tr")
        )
        if cells
    }
    assert rows["SeriesInstanceUID"][1:3] == ["str", "(0020,000E)"]
    assert rows["SeriesDate"][1] == "datetime.date | None"
    assert "getSeries" in rows["SeriesInstanceUID"][4]
    assert browser.save_screenshot(str(tmp_path / "models.png"))


def test_the_navigation_leads_to_a_task_page_and_its_examples(
    site: str, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(f"{site}/")
    link = _wait(browser).until(
        expected_conditions.element_to_be_clickable(
            (By.CSS_SELECTOR, "nav.md-nav--primary a[href$='downloads/']")
        )
    )
    link.click()
    _wait(browser).until(expected_conditions.url_contains("/downloads/"))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Downloads")
    code = browser.find_elements(By.CSS_SELECTOR, ".md-content pre code")
    assert any("download_series" in block.text for block in code)
    assert browser.save_screenshot(str(tmp_path / "downloads.png"))


def test_the_search_finds_series_instance_uid(
    site: str, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(f"{site}/")
    box = _wait(browser).until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input"))
    )
    box.click()
    box.send_keys("SeriesInstanceUID")
    _wait(browser).until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "li.md-search-result__item a[href*='reference/models']")
        )
    )
    results = browser.find_elements(By.CSS_SELECTOR, "li.md-search-result__item a")
    assert any("reference/models" in (r.get_attribute("href") or "") for r in results)
    assert browser.save_screenshot(str(tmp_path / "search.png"))
