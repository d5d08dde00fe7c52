"""Drive the editor in a real browser: start ``streamlit run``, log in, open models, click graph nodes.

Used by the browser tests and ``bench/ui.py``. Playwright drives Debian's chromium
(``/usr/bin/chromium``); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from editor_ui.cli import streamlit_command
from editor_ui.panels.server import free_port, http

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "app_server",
    "choose_file",
    "canvas_frame",
    "canvas_state",
    "click_edge",
    "click_in_canvas",
    "click_node",
    "fill",
    "go_to",
    "launch_browser",
    "login",
    "upload_model",
    "wait_idle",
    "wait_text",
]

CHROMIUM = "/usr/bin/chromium"
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


@contextlib.contextmanager
def app_server(env: dict[str, str] | None = None, *, timeout_s: float = 60.0) -> Iterator[str]:
    """Run the editor with ``streamlit run`` on a free loopback port; yields its URL."""
    port = free_port()
    child_env = dict(os.environ)
    child_env.update(env or {})
    root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = root + (os.pathsep + child_env["PYTHONPATH"] if child_env.get("PYTHONPATH") else "")
    log_path = Path(child_env.get("MODELPS_HOME", "/tmp")) / f"streamlit-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            streamlit_command("127.0.0.1", port),
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
            try:
                if http(f"{url}/_stcore/health", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start within {timeout_s} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch_browser(playwright: Any) -> Any:
    """Launch Debian's chromium headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


_IDLE_JS = (
    "() => document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state') === 'notRunning'"
)
_TEXT_JS = "(text) => document.body.innerText.includes(text)"


def wait_idle(page: Any, timeout_ms: float = 60_000) -> None:
    """Wait until Streamlit has finished the current run (its status widget is gone)."""
    for _ in range(2):  # twice: a click's rerun may not have started at the first look
        page.wait_for_timeout(60)
        page.wait_for_function(_IDLE_JS, polling=25, timeout=timeout_ms)


def fill(page: Any, field: Any, text: str) -> None:
    """Type ``text`` into ``field`` once Streamlit is idle, and let the value reach the server.

    Filling during a rerun can be lost when the widget is redrawn, and a button clicked right after
    a fill can run before the new value arrives; leaving the field commits it first.
    """
    wait_idle(page)
    field.fill(text)
    field.press("Tab")
    wait_idle(page)


def wait_text(page: Any, text: str, timeout_ms: float = 60_000) -> None:
    """Wait (polling every 25 ms, for timing) until ``text`` is on the page."""
    page.wait_for_function(_TEXT_JS, arg=text, polling=25, timeout=timeout_ms)


def login(page: Any, url: str, user: str) -> None:
    """Open the app (``url`` may carry ``?session=``) and give the user name."""
    page.goto(url)
    page.modelps_login = (url, user)  # for choose_file's reload fallback
    page.get_by_label("Your name (shown in the edit history)").fill(user)
    page.get_by_role("button", name="Continue").click()
    page.locator('[data-testid="stSidebar"]').get_by_text("Page", exact=True).wait_for()
    wait_idle(page)


def go_to(page: Any, name: str) -> None:
    """Switch to page ``name`` in the sidebar."""
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    wait_idle(page)


def choose_file(page: Any, path: str | os.PathLike[str], attempts: int = 3) -> None:
    """Put ``path`` into the Open page's uploader.

    Now and then (about one upload in 50 here) chromium's file input does not reach Streamlit's
    uploader; then the tab is reloaded, the user logs in again and the upload is retried.
    """
    button = page.get_by_role("button", name="Open uploaded model")
    for attempt in range(attempts):
        go_to(page, "Open")
        page.get_by_role("heading", name="Open a model").wait_for()
        wait_idle(page)
        page.locator('input[type="file"]').first.set_input_files(str(path))
        try:
            button.wait_for(timeout=10_000)
            wait_idle(page)
            return
        except Exception:
            if attempt == attempts - 1 or not hasattr(page, "modelps_login"):
                raise
            login(page, *page.modelps_login)


def upload_model(page: Any, path: str | os.PathLike[str]) -> None:
    """Upload an ONNX file on the Open page and open it."""
    choose_file(page, path)
    page.get_by_role("button", name="Open uploaded model").click()
    page.get_by_text(f"Opened {Path(path).name}").wait_for()
    wait_idle(page)


def canvas_frame(page: Any, index: int = 0, timeout_ms: float = 60_000) -> Any:
    """Return the canvas iframe's frame (``index`` counts canvases on the page), once its graph is drawn."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        frames = [f for f in page.frames if "modelps_canvas/" in f.url]
        if len(frames) > index:
            frame = frames[index]
            try:
                frame.wait_for_function(_READY_JS, polling=25, timeout=max(1.0, deadline - time.monotonic()) * 1000)
                return frame
            except Exception:
                if time.monotonic() > deadline:
                    raise
        elif time.monotonic() > deadline:
            raise TimeoutError("no canvas on the page")
        page.wait_for_timeout(50)


_READY_JS = "() => !!(window.modelpsCanvas && window.modelpsCanvas.ready())"


def canvas_state(frame: Any) -> dict[str, Any]:
    """The canvas's view: graph shown, zoom, pan, open groups, selection, picked tensors, members drawn."""
    return dict(frame.evaluate("() => window.modelpsCanvas.state()"))


def _page_point(page: Any, frame: Any, point: dict[str, float]) -> tuple[float, float]:
    box = frame.frame_element().bounding_box()
    return box["x"] + point["x"], box["y"] + point["y"]


def click_in_canvas(page: Any, name: str, *, index: int = 0, button: str = "left", clicks: int = 1) -> None:
    """Click the node (or group, by its label path) called ``name`` where the canvas draws it."""
    frame = canvas_frame(page, index)
    point = frame.evaluate("(n) => window.modelpsCanvas.position(n)", name)
    if point is None:
        raise ValueError(f"{name!r} is not drawn in the canvas")
    x, y = _page_point(page, frame, point)
    page.mouse.click(x, y, button=button, click_count=clicks)


def click_edge(page: Any, tensor: str, *, index: int = 0, shift: bool = False) -> None:
    """Click the edge carrying ``tensor`` (with shift: add it to the picked tensors)."""
    frame = canvas_frame(page, index)
    point = frame.evaluate("(t) => window.modelpsCanvas.edgePosition(t)", tensor)
    if point is None:
        raise ValueError(f"no drawn edge carries {tensor!r}")
    x, y = _page_point(page, frame, point)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(x, y)
    if shift:
        page.keyboard.up("Shift")


def click_node(page: Any, name: str, op: str) -> None:
    """Click node ``name`` in the canvas and wait for the inspector to show it (``op · name``)."""
    frame = canvas_frame(page)
    frame.evaluate("(n) => window.modelpsCanvas.reveal(n)", name)
    click_in_canvas(page, name)
    wait_text(page, f"{op} · {name}")
    wait_idle(page)
