"""The playground in a real browser: Debian's Chromium driven by Playwright (never
`playwright install`), against a real server over loopback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import encode
from tests.e2e.conftest import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("INBETWEEN_TEST_ARTIFACTS", "test-artifacts"))

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("INBETWEEN_REQUIRE_SERVICES"),
    reason="Debian's chromium is not installed (apt-get install chromium; CI installs it)")

RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.getAttribute("role") === "progressbar") {
      window.__progress.push(Number(r.target.getAttribute("aria-valuenow")));
    }
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["aria-valuenow"] });
"""


@pytest.fixture
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "CI must install chromium (see .ci/run)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def test_generate_watch_play_and_delete_in_the_browser(
    server: Server, key: str, photos: dict[str, np.ndarray], tmp_path: Path, browser: Any
) -> None:
    server.start(concurrency=1)
    first, last = tmp_path / "first.jpg", tmp_path / "last.png"
    first.write_bytes(encode(photos["astronaut"], "JPEG"))
    last.write_bytes(encode(photos["coffee"], "PNG"))
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.add_init_script(RECORD_PROGRESS)
    page.goto(f"{server.url}/")
    assert key not in page.content()  # no key in the page

    page.get_by_label("API key").fill(key)
    page.get_by_label("First frame").set_input_files(str(first))
    page.get_by_label("Last frame").set_input_files(str(last))
    page.get_by_text("first.jpg: 512×512 px").wait_for()
    page.get_by_label("Prompt", exact=True).fill("A slow push in while rain falls")
    page.get_by_label("Resolution").select_option("720p")
    page.get_by_label("Duration").select_option("4")
    assert '"duration": 4' in page.locator("#snippet-curl").inner_text()
    page.get_by_role("button", name="Generate").click()

    page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return v && !v.hidden && v.readyState >= 2; }", timeout=240_000)
    duration = page.evaluate("document.querySelector('video').duration")
    assert abs(duration - 4) <= 0.1
    values = page.evaluate("window.__progress")
    assert any(0 < v < 100 for v in values), values
    assert values == sorted(values), values
    assert values[-1] == 100
    download = page.get_by_role("link", name="Download")
    assert download.get_attribute("href").endswith(".mp4")
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"

    history = page.locator("#history li")
    history.first.wait_for()
    assert history.count() == 1 and "A slow push in" in history.first.inner_text()
    assert "completed" in history.first.inner_text()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "playground-finished.png"
    page.screenshot(path=str(shot), full_page=True)
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 50

    generation_id = history.first.get_attribute("data-id")
    page.get_by_role("button", name="Delete: A slow push in").click()
    history.first.wait_for(state="detached")
    gone = httpx.get(f"{server.url}/v2/video/generations",
                     params={"generation_id": generation_id},
                     headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert gone.status_code == 404


def test_api_errors_show_next_to_their_control_and_phones_fit(
    server: Server, key: str, browser: Any
) -> None:
    server.start(concurrency=0)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{server.url}/")
    page.get_by_label("Prompt", exact=True).fill("anything")
    page.get_by_role("button", name="Generate").click()
    page.locator("#err-key").get_by_text("Enter your API key").wait_for()
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Generate").click()
    page.locator("#err-image_url").get_by_text("Choose the first frame").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows a phone held upright
    # keyboard: every control is reachable with Tab, in reading order
    page.reload()
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.href"))
    assert order == [f"{server.url}/docs", "api-key", "key-show", "first-frame", "swap",
                     "last-frame", "prompt", None]  # then the example prompts (no id)


def test_a_running_generation_is_reattached_on_reload(
    server: Server, key: str, photos: dict[str, np.ndarray], browser: Any
) -> None:
    from tests.conftest import data_url
    from tests.e2e.conftest import Client

    server.start(concurrency=0)  # the job stays queued: nothing runs it
    generation_id = Client(server, key).submit({
        "model": "inbetween/keyframe", "prompt": "queued for ever",
        "image_url": data_url(photos["astronaut"], "JPEG"),
        "last_image_url": data_url(photos["coffee"]), "resolution": "720p", "duration": 4})
    page = browser.new_page()
    page.goto(f"{server.url}/")
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Tab")  # `change`: the page looks for running jobs
    page.get_by_text("position 1 in the queue").wait_for()
    assert page.get_by_role("button", name="Cancel").is_visible()
    page.reload()  # the key is in local storage; the stream is opened again
    page.get_by_text("position 1 in the queue").wait_for()
    assert page.locator("#history li").first.get_attribute("data-id") == generation_id
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Cancelled.").wait_for()
