"""The upload page in headless Chromium: drop a clip, see the verdict and its timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.browser import chromium
from tests.api.conftest import TOKENS, LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "api"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path, why = chromium()
    if path is None:
        pytest.skip(f"headless Chromium unavailable: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(live.url + "/")
    pg.wait_for_selector("body[data-state=ready]")
    pg.click("#keybox summary")  # this server wants a key: type it like a person would
    pg.fill("#apikey", TOKENS["reader"])
    pg.dispatch_event("#apikey", "change")
    yield pg
    context.close()
    assert [e for e in errors if "Failed to load resource" not in e] == []


def test_drop_a_clip_and_see_verdict_and_timeline(page: Any, marked_clip: Path) -> None:
    page.set_input_files("#file", str(marked_clip))
    page.wait_for_selector("body[data-state=done]", timeout=300_000)
    assert page.text_content("#label") == "mixed"
    assert page.text_content("#decided") == "watermark"
    assert page.text_content("#fname") == marked_clip.name
    verdict = page.locator("[data-testid=lane-verdict] .seg")
    marks = page.locator("[data-testid=lane-watermark] .seg")
    assert verdict.count() >= 2 and marks.count() == 1
    assert page.locator("[data-testid=lane-verdict] .seg.ai").count() >= 1
    left = marks.first.evaluate("el => el.style.left")
    assert left == "0%"
    evidence = page.text_content("#evidence")
    assert "detected, payload 0123456789abcdef" in evidence and "absent" in evidence
    if page.locator("[data-testid=lane-classifier]").count():  # the shipped classifier ran
        assert page.locator("[data-testid=lane-classifier] .seg").count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "upload-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_a_bad_upload_shows_the_error(page: Any, tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"not a video " * 500)
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    text = page.text_content("#error")
    assert text.startswith("422:") and "notes.mp4" in text and "not a readable video" in text
    assert page.get_attribute("body", "data-state") == "failed"  # it stayed "busy"


def test_a_clip_the_browser_cannot_play_says_so_beside_its_verdict(
    page: Any, tmp_path: Path
) -> None:
    import av
    import numpy as np

    gif = tmp_path / "loop.gif"  # a <video> plays no GIF: the preview stayed a blank box
    with av.open(str(gif), "w") as out:
        s = out.add_stream("gif", rate=10)
        s.width, s.height, s.pix_fmt = 64, 64, "rgb8"
        for i in range(10):
            rgb = np.full((64, 64, 3), 20 * i, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    page.set_input_files("#file", str(gif))
    page.wait_for_selector("body[data-state=done]", timeout=300_000)
    page.wait_for_selector("#nopreview:not([hidden])", timeout=30_000)


def test_the_keyboard_opens_the_chooser_and_the_same_file_can_be_chosen_again(
    page: Any, tmp_path: Path
) -> None:
    """The hidden input could not be focused and Enter on the drop box did nothing; choosing
    the same file again after an error sent nothing (the input's value had not changed)."""
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"not a video " * 500)
    choosers: list[Any] = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    # a round trip, so that the browser intercepts choosers before the first key (asking it to
    # does not wait for its answer: under load a key could open the native dialog instead)
    page.evaluate("0")
    for key in ("Enter", "Space"):  # the same file each time: each a new choice, a new scan
        page.focus("#drop")
        page.keyboard.press(key)
        for _ in range(150):
            if choosers:
                break
            page.wait_for_timeout(100)
        assert choosers, f"{key} on the drop box opened no file chooser"
        with page.expect_response(lambda r: "/v1/scan" in r.url, timeout=30_000):
            choosers.pop().set_files(str(bad))
        page.wait_for_selector("#error:not([hidden])", timeout=60_000)
        assert "not a readable video" in page.text_content("#error")


def test_a_later_choice_is_not_replaced_by_an_earlier_scan(
    page: Any, marked_clip: Path, tmp_path: Path
) -> None:
    """An earlier scan still polling drew its verdict over the later one when it finished; it
    is now cancelled on the server. In a phone-sized window, long names and source types wrap
    instead of widening the page."""
    pg = page
    pg.set_viewport_size({"width": 375, "height": 667})
    held: dict[str, Any] = {"first": None, "hold": True, "cancelled": []}

    def jobs(route: Any) -> None:  # hold the first job's polls at "running"
        job = route.request.url.rsplit("/", 1)[-1]
        held["first"] = held["first"] or job
        if route.request.method == "DELETE":  # the page cancels the job it gave up on
            answer = route.fetch()
            held["cancelled"].append((job, answer.status))
            route.fulfill(response=answer)
        elif job == held["first"] and held["hold"]:
            body = {"id": job, "kind": "scan", "status": "running", "progress": 0.5}
            route.fulfill(status=200, json=body)
        else:
            route.continue_()

    pg.route("**/v1/jobs/*", jobs)
    later = tmp_path / ("a-clip-with-a-very-long-name-" * 5 + ".mp4")
    later.write_bytes(marked_clip.read_bytes())
    pg.set_input_files("#file", str(marked_clip))
    pg.wait_for_function("() => document.getElementById('status-text').textContent"
                         ".startsWith('scanning')", timeout=120_000)  # fmt: skip
    pg.set_input_files("#file", str(later))
    pg.wait_for_selector("body[data-state=done]", timeout=300_000)
    assert pg.text_content("#fname") == later.name
    assert "half-marked" not in pg.text_content("#announce")
    # cancelled on the server (202), unless it had finished there already (409)
    assert [(j, s in (202, 409)) for j, s in held["cancelled"]] == [(held["first"], True)]
    held["hold"] = False  # the earlier job, done on the server by now, may answer
    pg.wait_for_timeout(2_000)  # several of the page's 0.4 s polls
    assert pg.text_content("#fname") == later.name and pg.is_hidden("#status")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375


def test_polling_rides_out_network_errors_and_names_a_foreign_answer(
    page: Any, marked_clip: Path
) -> None:
    """The first failed poll ended the scan with the browser's bare "Failed to fetch"; an
    HTML answer (a proxy's page) gave "Cannot read properties of null"."""
    failures = {"left": 2}

    def flaky(route: Any) -> None:  # the first two polls never reach the server
        if failures["left"]:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/jobs/*", flaky)
    page.set_input_files("#file", str(marked_clip))
    page.wait_for_selector("body[data-state=done]", timeout=300_000)
    assert failures["left"] == 0 and page.is_hidden("#error")
    assert page.text_content("#label") == "mixed"
    assert "half-marked.mp4: mixed" in page.text_content("#announce")
    page.unroute("**/v1/jobs/*")
    page.route(
        "**/v1/jobs/*",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>portal</p>"),
    )
    page.set_input_files("#file", str(marked_clip))
    page.wait_for_selector("#error:not([hidden])", timeout=120_000)
    assert "is not the API's JSON" in page.text_content("#error")


def test_a_key_a_header_cannot_carry_is_refused_with_a_reason(page: Any, tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"x" * 100)
    page.fill("#apikey", "vp_secret日本")
    page.set_input_files("#file", str(clip))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "an HTTP header cannot carry" in page.text_content("#error")
