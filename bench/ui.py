"""The graph canvas in a real browser, against Netron and Model Explorer on the same files.

Playwright drives Debian's chromium (1500×1000). Models: the zoo's ``fedreid-resnet50`` export (124
nodes; skipped without the zoo) and generated ResNet-like chains of 5,000 and 30,000 nodes.

ModelPS, per model, in one browser tab (a user's session):

* ``open``: click "Open uploaded model" until the app reports it open and is idle (the upload itself,
  done before, is not counted);
* ``graph``: switch to the Graph page until the canvas has drawn the graph;
* ``open_to_interactive``: the two together;
* ``click``: click a node on the canvas until the inspector shows it;
* ``edit``: click "Remove" (the selected node) until the new revision is drawn on the canvas (models
  over 2,000 nodes are validated structurally per edit, see ``editor_ui.workspace``);
* ``fetch_ms``, ``draw_ms``, ``layout_ms``: the canvas's own share of ``graph`` (fetching the document,
  laying out and drawing it), from the page.

Netron (``pip install netron``, its own local server) and Model Explorer (``ai-edge-model-explorer`` +
``model-explorer-onnx``; WebGL through SwiftShader): ``open_to_interactive`` is from loading the page
for the file until the graph is drawn (Netron: its SVG nodes, its cookie question answered by a click on
every load; Model Explorer: its node count shown and "Processing graph" gone), and ``click`` (Netron
only) a node until its properties show. Neither edits. Steps past ``--limit`` seconds are reported as
not finished. Medians of ``--repeats`` after one warm-up pass, tools interleaved per repeat.

Usage::

    python bench/ui.py [--repeats 5] [--sizes 5000,30000] [--tools modelps,netron,model-explorer]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from editor_ui import testing
from editor_ui.panels.server import free_port, http
from editor_ui.samples import residual_cnn
from modelps import io

NODES = {"resnet50": "/layer2/layer2.0/relu/Relu", 5000: "/block400/Relu_2001", 30000: "/block400/Relu_2001"}
WEBGL_ARGS = ["--use-gl=swiftshader", "--enable-webgl", "--ignore-gpu-blocklist"]
OPS = {"resnet50": "Relu", 5000: "Relu", 30000: "Relu"}


def _timed(action: Any, done: Any) -> float:
    start = time.perf_counter()
    action()
    done()
    return time.perf_counter() - start


def modelps_pass(page: Any, path: Path, node: str, op: str) -> dict[str, float]:
    """Open, draw, click and edit one model in an open tab of the editor."""
    testing.choose_file(page, path)
    t_open = _timed(
        lambda: page.get_by_role("button", name="Open uploaded model").click(),
        lambda: (testing.wait_text(page, f"Opened {path.name}"), testing.wait_idle(page)),
    )
    t_graph = _timed(
        lambda: page.locator('[data-testid="stSidebar"]').get_by_text("Graph", exact=True).click(),
        lambda: testing.canvas_frame(page),
    )
    frame = testing.canvas_frame(page)
    first = dict(testing.canvas_state(frame)["timings"])
    frame.evaluate("(n) => window.modelpsCanvas.reveal(n)", node)  # bring it on screen (not timed)
    page.wait_for_timeout(200)
    t_click = _timed(lambda: testing.click_in_canvas(page, node), lambda: testing.wait_text(page, f"{op} · {node}"))
    testing.wait_idle(page)
    token = testing.canvas_state(frame)["token"]
    t_edit = _timed(
        lambda: page.get_by_role("button", name="Remove", exact=True).click(),
        lambda: frame.wait_for_function(
            "(t) => window.modelpsCanvas.state().token !== t && window.modelpsCanvas.ready()", arg=token, polling=20
        ),
    )
    testing.wait_idle(page)
    inside = first
    return {
        **{key: value / 1000 for key, value in inside.items()},
        "open": t_open,
        "graph": t_graph,
        "open_to_interactive": t_open + t_graph,
        "click": t_click,
        "edit": t_edit,
    }


def netron_pass(browser: Any, path: Path, limit: float) -> dict[str, float]:
    """Serve ``path`` with Netron, load its page and click a node."""
    import netron

    address = netron.start(str(path), address=("127.0.0.1", free_port()), browse=False)
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    url = f"http://{address[0]}:{address[1]}/"
    try:
        nodes = page.locator("svg#canvas g.node")

        def load() -> None:  # Netron asks to accept its cookies on every load, before it reads the model
            page.goto(url)
            page.get_by_role("button", name="Accept").click(timeout=limit * 1000)

        t_open = _timed(load, lambda: nodes.first.wait_for(state="attached", timeout=limit * 1000))
        t_click = _timed(
            lambda: nodes.nth(min(5, nodes.count() - 1)).click(force=True),
            lambda: page.locator(".sidebar").first.wait_for(state="attached", timeout=limit * 1000),
        )
        return {"open_to_interactive": t_open, "click": t_click}
    except Exception as exc:  # noqa: BLE001 - a tool that does not finish is reported, not fatal
        print(f"netron: {path.name}: {type(exc).__name__}", file=sys.stderr)
        return {"open_to_interactive": float("inf")}
    finally:
        context.close()
        netron.stop(address)


def explorer_pass(browser: Any, url: str, path: Path, limit: float) -> dict[str, float]:
    """Load ``path`` in Model Explorer until its graph is drawn."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    target = f"{url}/?data=" + urllib.parse.quote(json.dumps({"models": [{"url": str(path)}]}))
    done = (
        "() => /\\d+ nodes/.test(document.body.innerText) && !document.body.innerText.includes('Processing graph')"
        " && document.querySelectorAll('canvas').length > 0"
    )
    try:
        t_open = _timed(
            lambda: page.goto(target), lambda: page.wait_for_function(done, timeout=limit * 1000, polling=50)
        )
        return {"open_to_interactive": t_open}
    except Exception as exc:  # noqa: BLE001
        print(f"model-explorer: {path.name}: {type(exc).__name__}", file=sys.stderr)
        return {"open_to_interactive": float("inf")}
    finally:
        context.close()


def _explorer_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).with_name("model-explorer")
    cmd = [str(exe), "--host", "127.0.0.1", "--port", str(port), "--no_open_in_browser"]
    cmd += ["--extensions", "model_explorer_onnx"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if http(url + "/", timeout=1)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    return proc, url


def summarize(samples: dict[str, dict[str, list[dict[str, float]]]]) -> dict[str, Any]:
    """Median and range per tool, model and step (``inf``: did not finish within the limit)."""
    out: dict[str, Any] = {}
    for tool, by_model in samples.items():
        for model, runs in by_model.items():
            steps = {}
            for key in runs[0] if runs else []:
                values = [r.get(key, float("inf")) for r in runs]
                steps[key] = {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values)}
            out.setdefault(tool, {})[model] = steps
    return out


def _models(folder: Path, sizes: list[int]) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]  # bench/zoo.py shadows the zoo
    try:
        from zoo.api import export

        paths["resnet50"] = folder / "fedreid-resnet50.onnx"
        export("fedreid-resnet50", paths["resnet50"], weights="seeded")
    except ImportError:
        print("the zoo is not installed: ResNet-50 skipped", file=sys.stderr)
    for size in sizes:
        paths[str(size)] = folder / f"chain{size}.onnx"
        io.save(residual_cnn(size), paths[str(size)])
    return paths


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="5000,30000")
    parser.add_argument("--tools", default="modelps,netron,model-explorer")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds after which a step counts as not finished")
    parser.add_argument("--json", type=Path, default=Path("bench/results/ui.json"))
    args = parser.parse_args()
    tools = args.tools.split(",")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="modelps-bench-ui-") as tmp:
        home = Path(tmp)
        paths = _models(home, [int(s) for s in args.sizes.split(",") if s])
        env = {"MODELPS_HOME": str(home), "MODELPS_DB": f"sqlite:///{home / 'sessions.db'}"}
        samples: dict[str, dict[str, list[dict[str, float]]]] = {t: {m: [] for m in paths} for t in tools}
        explorer = _explorer_server() if "model-explorer" in tools else None
        try:
            with testing.app_server(env) as url, sync_playwright() as p:
                browser = testing.launch_browser(p)
                gl = p.chromium.launch(
                    executable_path=testing.CHROMIUM,
                    args=[*testing.CHROMIUM_ARGS[:2], *WEBGL_ARGS],
                )
                for rep in range(args.repeats + 1):  # the first pass warms servers and caches
                    order = list(paths) if rep % 2 == 0 else list(paths)[::-1]
                    for model in order:
                        path = paths[model]
                        key = model if model == "resnet50" else int(model)
                        row: dict[str, dict[str, float]] = {}
                        if "modelps" in tools:
                            context = browser.new_context(viewport={"width": 1500, "height": 1000})
                            page = context.new_page()
                            page.set_default_timeout(args.limit * 1000)
                            testing.login(page, url, f"bench{rep}")
                            try:
                                row["modelps"] = modelps_pass(page, path, NODES[key], OPS[key])
                            except Exception:
                                page.screenshot(path=str(home / "failure.png"))
                                raise
                            finally:
                                context.close()
                        if "netron" in tools:
                            row["netron"] = netron_pass(browser, path, args.limit)
                        if "model-explorer" in tools and explorer is not None:
                            row["model-explorer"] = explorer_pass(gl, explorer[1], path, args.limit)
                        print(f"pass {rep} {model}: " + json.dumps(row, default=lambda v: round(v, 3)), file=sys.stderr)
                        if rep:
                            for tool, timings in row.items():
                                samples[tool][model].append(timings)
                gl.close()
                browser.close()
        finally:
            if explorer is not None:
                explorer[0].terminate()
    result = {"repeats": args.repeats, "models": list(paths), "results": summarize(samples)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"{'tool':>15} {'model':>9} {'step':>20} {'median s':>9} {'min-max s':>15}")
    for tool, by_model in result["results"].items():
        for model, steps in by_model.items():
            for key, row in steps.items():
                spread = f"{row['min_s']:>7.3f}-{row['max_s']:<7.3f}"
                print(f"{tool:>15} {model:>9} {key:>20} {row['median_s']:>9.3f} {spread}")


if __name__ == "__main__":
    main()
