"""Fixtures of the annotator tests: a real server on 127.0.0.1 and a real headless Chromium.

Chromium is Debian's (`scripts/setup.sh --dev` installs it), driven by Playwright's Python
package; Playwright's own browser download is never used. Browser tests skip only where no
Chromium can be found at all, and say so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotator.server import AnnotatorServer, serve
from tests.factories import build_small_dataset
from uecity.cli import app
from uecity.dataset import Dataset

GENERATED_VIDEO = "video_0000"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's Chromium, or the one named by UECITY_CHROMIUM."""
    for candidate in (os.environ.get("UECITY_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def start_server(dataset: Dataset) -> AnnotatorServer:
    server = serve(dataset, host="127.0.0.1", port=0)
    server.start_in_thread()
    return server


@pytest.fixture
def small_dataset(tmp_path: Path) -> Dataset:
    return build_small_dataset(tmp_path / "small")


@pytest.fixture
def small_server(small_dataset: Dataset) -> Iterator[AnnotatorServer]:
    server = start_server(small_dataset)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def generated_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `uecity generate` makes with the shipped spec and 16-label vocabulary: two
    120-frame 1280x720 videos (about 300 automatic intervals each). Made once per session."""
    root = tmp_path_factory.mktemp("generated") / "data"
    result = CliRunner().invoke(
        app, ["generate", "--videos", "2", "--frames", "120", "--out", str(root)]
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def generated(generated_root: Path, tmp_path: Path) -> Dataset:
    """A fresh copy of the generated dataset for one test."""
    shutil.copytree(generated_root, tmp_path / "generated")
    return Dataset.open(tmp_path / "generated")


@pytest.fixture
def generated_server(generated: Dataset) -> Iterator[AnnotatorServer]:
    server = start_server(generated)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        message = "no Chromium found: run `scripts/setup.sh --dev` (installs Debian's chromium)"
        if os.environ.get("CI"):  # CI must run the browser tests, not skip them
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: scripts/setup.sh --dev"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser):  # type: ignore[no-untyped-def]
    """Open the annotator of a server in a fresh browser context, as annotator `author`."""
    contexts = []

    def open_page(
        server: AnnotatorServer | str,
        *,
        author: str | None = "ada",
        hash_: str = "",
        viewport: tuple[int, int] = (1366, 768),
    ):
        width, height = viewport
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        contexts.append(context)
        if author is not None:
            context.add_init_script(f"localStorage.setItem('uecity.annotator.author', {author!r});")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((server if isinstance(server, str) else server.url) + hash_)
        page.evaluate("window.annotator.ready")
        page.errors = errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()
