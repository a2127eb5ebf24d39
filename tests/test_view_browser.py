"""msft view end to end in a real headless browser (Debian's chromium, driven by Playwright).

Loads the page, zooms with the wheel and a button, pans by dragging, reads the
readout under the pointer on a sine of known level, and plays the visible
range. Skipped only where /usr/bin/chromium is absent (``.ci/run`` installs it).
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from msft_cli import analyze
from msft_cli.view import start, stop

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium "
                                       "(apt-get install chromium; .ci/run does)")

SR = 22050
SECONDS = 4.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required", "--mute-audio"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("view-browser")
    t = np.arange(int(SECONDS * SR)) / SR
    y = 0.5 * np.sin(2 * np.pi * 880.0 * t)  # A5, a bin centre: -6.0 dBFS
    y[SR // 2::SR] += 0.9                     # a click every second
    sf.write(d / "a5.wav", np.stack([y, 0.5 * y]).T, SR, subtype="FLOAT")
    analyze(d / "a5.wav", d / "a5.h5")
    s = start([d / "a5.h5"], min_level=2)
    yield s
    stop(s)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright
    profile = tempfile.mkdtemp(prefix="msft-view-chromium-")
    errors = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=ARGS, headless=True,
            viewport={"width": 1100, "height": 600})
        try:
            pg = ctx.new_page()
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.goto(server.url)
            pg.wait_for_function("window.msftView && window.msftView.tilesReady()",
                                 timeout=15000)
            yield pg
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)
    assert errors == []


def view(page):
    return page.evaluate("({...window.msftView.state.view, z: window.msftView.state.zoom})")


def test_page_shows_the_whole_file(page):
    v = view(page)
    assert v["t0"] == 0 and v["t1"] == pytest.approx(SECONDS)
    lit = page.evaluate("""() => {
        const c = document.getElementById('view'), d = c.getContext('2d')
            .getImageData(70, 10, c.width - 90, c.height - 50).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] + d[i + 1] + d[i + 2] > 60;
        return n / (d.length / 4); }""")
    assert lit > 0.05  # tiles are drawn, not a black canvas


def test_zoom_pan_readout_and_playback(page, server):
    box = page.locator("#view").bounding_box()
    # zoom in with the wheel around the middle, then with the button
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = view(page)
    for _ in range(4):
        page.mouse.wheel(0, -400)
    page.click("#zoom-in")
    page.wait_for_function("window.msftView.tilesReady()", timeout=15000)
    after = view(page)
    assert after["t1"] - after["t0"] < (before["t1"] - before["t0"]) / 8
    assert after["z"] < before["z"]
    # pan by dragging to the left: later times come into view
    page.mouse.move(box["x"] + 600, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 200, steps=5)
    page.mouse.up()
    panned = view(page)
    assert panned["t0"] > after["t0"]
    page.wait_for_function("window.msftView.tilesReady()", timeout=15000)
    # the readout on the sine, between two clicks
    t = (panned["t0"] + panned["t1"]) / 2
    at = page.evaluate(f"window.msftView.point({t}, 880)")
    page.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    page.wait_for_timeout(100)
    freq = page.inner_text("#ro-freq")
    assert "bin 880.00 Hz" in freq
    assert page.inner_text("#ro-note").startswith("A5 ")
    level = float(page.inner_text("#ro-db").split()[0].replace("\u2212", "-"))
    assert level == pytest.approx(-6.02, abs=1.0)
    m, s = page.inner_text("#ro-time").split(":")
    assert 60 * int(m) + float(s) == pytest.approx(t, abs=0.01)
    # play what is visible: the playhead moves
    page.click("#reset")
    page.click("#play")
    page.wait_for_function("window.msftView.playhead() > 0.2", timeout=15000)
    assert page.inner_text("#status").startswith("playing")
    assert page.evaluate("window.msftView.state.play.audio.paused") is False
    page.click("#stop")
    assert page.evaluate("window.msftView.state.play") is None


def pixels(page):
    return page.evaluate("""() => {
        const c = document.getElementById('view');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data
            .filter((_, i) => i % 97 === 0)); }""")


def test_pinch_axis_colours_and_range(page):
    page.click("#reset")
    page.wait_for_function("window.msftView.tilesReady()", timeout=15000)
    box = page.locator("#view").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 200)
    before = view(page)
    page.keyboard.down("Control")  # a trackpad pinch arrives as a wheel event with ctrlKey
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    after = view(page)
    assert after["t1"] - after["t0"] < (before["t1"] - before["t0"]) / 2
    page.keyboard.down("Shift")    # shift + wheel: frequency
    page.mouse.wheel(0, -300)
    page.keyboard.up("Shift")
    assert view(page)["y1"] - view(page)["y0"] < after["y1"] - after["y0"]
    page.wait_for_function("window.msftView.tilesReady()", timeout=15000)
    shown = pixels(page)
    page.select_option("#cmap", "gray")
    page.wait_for_timeout(100)
    assert pixels(page) != shown
    shown = pixels(page)
    page.fill("#top-db", "-20")
    page.wait_for_timeout(100)
    assert pixels(page) != shown
    page.select_option("#axis", "note")
    page.select_option("#channel", "1")
    page.wait_for_function("window.msftView.tilesReady()", timeout=15000)
    assert page.evaluate("window.msftView.state.channel") == 1
