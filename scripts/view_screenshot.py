"""Write docs/view.png: ``msft view`` on sample_audio/house_beat.wav in headless chromium.

Needs Debian's chromium at /usr/bin/chromium and the test extra (Playwright).
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from msft_cli.view import start, stop  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required", "--mute-audio"]


def main(clip=ROOT / "sample_audio" / "house_beat.wav", out=ROOT / "docs" / "view.png"):
    from playwright.sync_api import sync_playwright
    server = start([clip])
    profile = tempfile.mkdtemp(prefix="msft-view-shot-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", args=ARGS, headless=True,
                viewport={"width": 1280, "height": 720})
            page = ctx.new_page()
            page.goto(server.url)
            ready = "window.msftView && window.msftView.tilesReady()"
            page.wait_for_function(ready, timeout=60000)
            page.select_option("#axis", "note")
            page.evaluate("window.msftView.setView(1.9, 4.1)")
            page.wait_for_function(ready, timeout=60000)
            box = page.locator("#view").bounding_box()
            a = page.evaluate("window.msftView.point(2.47, 3000)")
            b = page.evaluate("window.msftView.point(3.02, 9000)")
            page.keyboard.down("Shift")  # a selection: a hi-hat's band
            page.mouse.move(box["x"] + a["x"], box["y"] + a["y"])
            page.mouse.down()
            page.mouse.move(box["x"] + b["x"], box["y"] + b["y"], steps=4)
            page.mouse.up()
            page.keyboard.up("Shift")
            page.check("#solo")
            c = page.evaluate("window.msftView.point(2.12, 110)")
            page.mouse.move(box["x"] + c["x"], box["y"] + c["y"])
            page.wait_for_timeout(200)
            page.screenshot(path=str(out))
            ctx.close()
    finally:
        stop(server)
        shutil.rmtree(profile, ignore_errors=True)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
