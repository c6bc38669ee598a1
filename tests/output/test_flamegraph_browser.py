"""The flame graph in a real browser (Debian's chromium, driven by selenium): a click
on a frame zooms it to the full width, and Reset Zoom brings the whole graph back."""

from __future__ import annotations

import shutil

import pytest

from pybpf.output import svg

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium and chromedriver are not installed")


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _rect(driver, name: str) -> tuple[float, float]:
    element = driver.execute_script(
        "return Array.from(document.querySelectorAll('g.frame')).find("
        "g => g.querySelector('title').textContent.startsWith(arguments[0] + ' ('));", name)
    rect = element.find_element("tag name", "rect")
    return float(rect.get_attribute("x")), float(rect.get_attribute("width"))


def test_click_zooms(tmp_path, browser):
    stacks = [(("main", "work", "hash"), 60), (("main", "io", "read"), 30), (("main", "idle"), 10)]
    page = tmp_path / "flame.svg"
    page.write_text(svg(stacks, width=1020))
    browser.get(page.as_uri())
    assert _rect(browser, "io") == pytest.approx((110.0, 300.0), abs=0.05)   # after idle (sorted by name)
    element = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.frame')).find(g => g.querySelector('title').textContent.startsWith('io ('));")
    element.find_element("tag name", "rect").click()
    assert _rect(browser, "io") == pytest.approx((10.0, 1000.0), abs=0.05)
    assert _rect(browser, "read") == pytest.approx((10.0, 1000.0), abs=0.05)
    hidden = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.frame.hidden')).map(g => g.querySelector('title').textContent.split(' (')[0]).sort();")
    assert hidden == ["hash", "idle", "work"]
    browser.find_element("id", "unzoom").click()
    assert _rect(browser, "io") == pytest.approx((110.0, 300.0), abs=0.05)
    browser.execute_script("search('^(hash|read)$');")
    assert browser.find_element("id", "matched").text == "Matched: 90.0%"
