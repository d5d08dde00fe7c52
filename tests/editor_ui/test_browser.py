"""Real-browser tests: Playwright drives Debian's chromium against ``streamlit run``.

Screenshots go to ``artifacts/screenshots/``; with ``MODELPS_DOCS_IMAGES=1`` the ones shown in
``docs/ui.md`` are written to ``docs/images/`` as well.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from editor_ui import opening, panels, testing
from editor_ui.samples import residual_cnn
from modelps import io

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(testing.CHROMIUM).exists(),
        reason="Debian's chromium is not installed (apt-get install chromium); browser tests skipped",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
DOCS = ROOT / "docs" / "images"


def shot(page, name: str, docs: str | None = None) -> None:
    """Save a screenshot; ``docs`` names the image in docs/images it regenerates (MODELPS_DOCS_IMAGES=1)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(700)  # let canvases (graph, tables) paint
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
    if docs and os.environ.get("MODELPS_DOCS_IMAGES") == "1":
        page.screenshot(path=str(DOCS / f"{docs}.png"), full_page=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-home")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    env = {
        "MODELPS_HOME": str(home),
        "MODELPS_DB": f"sqlite:///{home / 'sessions.db'}",
        "MODELPS_BLOBS": str(home / "blobs"),
    }
    with testing.app_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = testing.launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-models") / "resnetish.onnx"
    io.save(residual_cnn(40), path)
    return path


def test_select_edit_undo(page, server: str, model_file: Path) -> None:
    testing.login(page, server, "alice")
    shot(page, "open", "ui-open")
    testing.upload_model(page, model_file)
    testing.go_to(page, "Graph")
    testing.click_node(page, "/block0/Relu_3", "Relu")
    assert page.get_by_label("node", exact=True).first.input_value() == "/block0/Relu_3"
    page.get_by_role("button", name="Apply edit").first.click()
    page.get_by_text("Applied remove_node(node='/block0/Relu_3') as revision 1").wait_for()
    testing.wait_idle(page)
    page.get_by_text("Model: resnetish · revision 1").wait_for()
    shot(page, "edited")
    page.get_by_role("button", name="Undo").first.click()
    page.get_by_text("Undid remove_node(node='/block0/Relu_3')").wait_for()
    page.get_by_text("Model: resnetish · revision 0").wait_for()
    testing.go_to(page, "Edit")
    page.get_by_role("heading", name="History").wait_for()
    shot(page, "edit", "ui-edit")


def test_bad_upload_is_explained(page, server: str, tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"definitely not onnx" * 20)
    testing.login(page, server, "alice")
    testing.go_to(page, "Open")
    page.locator('input[type="file"]').first.set_input_files(str(bad))
    page.get_by_role("button", name="Open uploaded model").click()
    page.get_by_text(re.compile(r"Cannot open: broken\.onnx: ")).wait_for()


def test_two_browsers_share_one_session(browser, server: str, model_file: Path) -> None:
    contexts = [browser.new_context(viewport={"width": 1500, "height": 1000}) for _ in range(2)]
    alice, bob = (c.new_page() for c in contexts)
    for p in (alice, bob):
        p.set_default_timeout(60_000)
    try:
        testing.login(alice, server, "alice")
        testing.upload_model(alice, model_file)
        testing.go_to(alice, "Share")
        alice.get_by_role("button", name="Start a shared session").click()
        alice.get_by_text(re.compile(r"Shared as session [0-9a-f]{12}")).wait_for()
        sid = re.search(r"session=([0-9a-f]{12})", alice.url).group(1)
        testing.fill(alice, alice.get_by_label("User"), "bob")
        alice.get_by_role("button", name="Grant").click()
        alice.get_by_text("bob is now editor").wait_for()
        shot(alice, "share", "ui-share")

        testing.login(bob, f"{server}/?session={sid}", "bob")
        bob.get_by_text(f"Opened shared session {sid} at revision 0").wait_for()
        testing.go_to(bob, "Graph")
        testing.click_node(bob, "/block0/Relu_3", "Relu")
        bob.get_by_role("button", name="Apply edit").first.click()
        bob.get_by_text("Applied remove_node(node='/block0/Relu_3') as revision 1").wait_for()

        alice.get_by_text(f"Model: resnetish · revision 1 · session {sid}").wait_for(timeout=30_000)
        testing.go_to(alice, "Edit")
        history = alice.locator('[role="gridcell"]')
        history.filter(has_text="remove_node(node='/block0/Relu_3')").first.wait_for(state="attached")
        assert history.filter(has_text=re.compile(r"^bob$")).count() == 1
        testing.fill(alice, alice.get_by_label("node", exact=True).first, "/block2/Relu_11")
        alice.get_by_role("button", name="Apply edit").first.click()
        alice.get_by_text("Applied remove_node(node='/block2/Relu_11') as revision 2").wait_for()
        shot(alice, "history")
        bob.get_by_text(f"Model: resnetish · revision 2 · session {sid}").wait_for(timeout=30_000)
        shot(bob, "bob-sees-alice")
    finally:
        for c in contexts:
            c.close()


@pytest.mark.skipif(not opening.zoo_available(), reason="the zoo (torch) is not installed")
def test_open_zoo_model(page, server: str) -> None:
    testing.login(page, server, "alice")
    testing.go_to(page, "Open")
    page.get_by_role("tab", name="Model zoo").click()
    page.get_by_role("button", name="Export and open").wait_for()
    page.get_by_role("button", name="Export and open").click()
    page.get_by_text("Opened zoo model face-mobilefacenet").wait_for(timeout=300_000)
    testing.go_to(page, "Graph")
    testing.canvas_frame(page)
    page.get_by_label("Search node, tensor or op type").fill("Conv")
    page.get_by_label("Search node, tensor or op type").press("Enter")
    testing.wait_idle(page)
    page.get_by_role("button", name="Go to match").click()
    testing.wait_idle(page)
    page.get_by_role("heading", name=re.compile(r"^Conv · ")).wait_for()
    page.get_by_text(re.compile(r"^Initializer ")).first.click()
    testing.wait_idle(page)
    page.get_by_text("Initializer", exact=False).first.scroll_into_view_if_needed()
    shot(page, "zoo")


@pytest.mark.skipif(not panels.genie_available(), reason="the genie is not installed")
def test_genie_on_a_small_model(page, server: str, tmp_path: Path) -> None:
    small = tmp_path / "tiny.onnx"
    io.save(residual_cnn(20, channels=3, size=16), small)
    testing.login(page, server, "alice")
    testing.upload_model(page, small)
    testing.go_to(page, "Genie")
    testing.fill(page, page.get_by_label("Budget (seconds)"), "20")
    page.get_by_role("button", name="Search").click()
    page.get_by_text(re.compile(r"Found \d+ candidate")).wait_for(timeout=300_000)
    testing.wait_idle(page)
    shot(page, "genie", "ui-genie")
    if page.get_by_role("button", name="Apply candidate").count():
        page.get_by_role("button", name="Apply candidate").click()
        page.get_by_text(re.compile(r"Applied \d+ edit")).wait_for()


@pytest.mark.skipif(not panels.genie_available(), reason="the genie is not installed")
def test_genie_refuses_calibration_inputs_that_do_not_fit(page, server: str, tmp_path: Path) -> None:
    import numpy as np

    small = tmp_path / "tiny.onnx"
    io.save(residual_cnn(20, channels=3, size=16), small)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, pixels=np.zeros((4, 3, 16, 16), np.float32))
    testing.login(page, server, "alice")
    testing.upload_model(page, small)
    testing.go_to(page, "Genie")
    page.get_by_text("Calibration data and fine-tuning").click()
    page.locator('input[type="file"]').first.set_input_files(str(wrong))
    page.get_by_text("wrong.npz").wait_for()
    page.get_by_role("button", name="Search").click()
    page.get_by_text(re.compile(r"wrong\.npz does not fit this model: .*lacks input\(s\) \['input'\]")).wait_for()
    assert page.get_by_role("button", name="Search").is_visible()  # the form and the session stay
    assert not page.get_by_text(re.compile(r"Found \d+ candidate")).count()


@pytest.mark.skipif(not panels.serving_available(), reason="serving is not installed")
def test_publish_and_call_the_served_model(page, server: str, model_file: Path) -> None:
    testing.login(page, server, "alice")
    testing.upload_model(page, model_file)
    testing.go_to(page, "Serve")
    page.get_by_role("button", name="Start server").click()
    page.get_by_text(re.compile(r"Server running at http://127\.0\.0\.1:\d+")).wait_for(timeout=120_000)
    try:
        page.get_by_role("button", name="Build and publish").click()
        page.get_by_text(re.compile(r"Published resnetish to .* The server loaded it\.")).wait_for(timeout=300_000)
        testing.wait_idle(page)
        page.get_by_role("button", name="Run").click()
        page.get_by_text(re.compile(r"resnetish answered in [\d.]+ ms")).wait_for(timeout=60_000)
        testing.wait_idle(page)
        shot(page, "serve", "ui-serve")
    finally:
        env_home = os.environ.get("MODELPS_HOME")
        del env_home
        page.get_by_role("button", name="Stop server").click()
        page.get_by_text("Server stopped.").wait_for()
