"""The Dagster UI, served from this project, shows our groups, assets and checks in a real browser."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _expected_graph() -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(groups, assets, (asset, check)) as the code location defines them."""
    from synth_ehr_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    assets = sorted(key.path[-1] for key in graph.get_all_asset_keys())
    groups = sorted({graph.get(key).group_name for key in graph.get_all_asset_keys()})
    checks = sorted((key.asset_key.path[-1], key.name) for key in graph.asset_check_keys)
    return groups, assets, checks

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"dagster-webserver did not answer at {url} within {timeout}s")


@pytest.fixture
def webserver(stores: Path, tmp_path: Path):
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        "-h", "127.0.0.1", "-p", str(port), "-w", str(PROJECT_ROOT / "workspace.yaml"),
    ]
    log = open(tmp_path / "webserver.log", "w")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _dismiss_community_dialog(page) -> None:
    """The UI greets a fresh instance with a newsletter dialog over the graph; skip it when it shows."""
    try:
        page.get_by_role("button", name="Skip").click(timeout=5_000)
    except Exception:  # playwright's TimeoutError: no dialog this time
        pass


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it with apt)")
def test_asset_graph_shows_groups_assets_and_checks(webserver: str, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    groups, assets, checks = _expected_graph()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{webserver}/assets", wait_until="domcontentloaded")
            for name in assets:
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            for group in groups:
                assert page.get_by_text(group, exact=True).count() > 0, f"group {group} not shown"
            page.screenshot(path=str(tmp_path / "assets.png"), full_page=True)

            for asset in sorted({asset for asset, _ in checks}):
                page.goto(f"{webserver}/assets/{asset}?view=checks", wait_until="domcontentloaded")
                for check in (name for owner, name in checks if owner == asset):
                    page.get_by_text(check).first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "checks.png"), full_page=True)

            page.goto(f"{webserver}/assets", wait_until="domcontentloaded")
            page.get_by_role("link", name="Lineage").first.click()
            _dismiss_community_dialog(page)
            for group in groups:  # a graph this size opens with each group collapsed to one node
                page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "lineage.png"), full_page=True)

            page.goto(f"{webserver}/assets/synthetic_claims?view=lineage", wait_until="domcontentloaded")
            for neighbour in ("gan_checkpoint", "synthetic_claims", "provider_notes"):
                page.get_by_text(neighbour, exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "graph.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)  # what the browser showed
            raise
        finally:
            browser.close()
    assert (tmp_path / "graph.png").stat().st_size > 10_000
    print(f"browser test took {time.perf_counter() - started:.1f}s; screenshots in {tmp_path}")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it with apt)")
def test_data_card_renders_offline_on_one_page(tmp_path: Path):
    """The card as the release writer renders it, opened from disk with every network request refused: nothing is
    requested, the reviewer's sections show, and the screenshot is kept beside the test's other output."""
    from playwright.sync_api import sync_playwright

    from synth_ehr_assets.core.export.data_card import render_data_card
    from synth_ehr_assets.core.export.plots import judge_histogram_png
    from synth_ehr_assets_tests.core.test_data_card import card_inputs

    manifest, tables = card_inputs()
    card = tmp_path / "data_card.html"
    card.write_text(render_data_card(manifest, {"Judge scores per note": judge_histogram_png(tables["judge_scores"])}))
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def refuse_network(route):
                if route.request.url.startswith(("file:", "data:")):
                    return route.continue_()
                requested.append(route.request.url)
                return route.abort()

            page.route("**/*", refuse_network)
            page.goto(card.as_uri(), wait_until="load")
            for heading in ("Source", "Tables", "Gates", "5 sample claims with their notes", "Must not be used for"):
                assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
            images = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            page.screenshot(path=str(tmp_path / "data_card.png"), full_page=True)
        finally:
            browser.close()
    assert requested == []
    assert images and all(width > 0 for width in images)  # the embedded plot decodes
    assert (tmp_path / "data_card.png").stat().st_size > 10_000
    print(f"data card screenshot: {tmp_path / 'data_card.png'}")
