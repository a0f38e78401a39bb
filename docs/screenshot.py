"""Take the README screenshot of a running paperfeed with headless Chromium.

    paperfeed serve --demo &            # or any instance with real data
    python docs/screenshot.py http://127.0.0.1:8000/ docs/screenshot-home.png
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(url: str, out: str, width: int = 1280, height: int = 900) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
