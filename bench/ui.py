"""Editor UI timings in a real browser (Playwright + Debian's chromium against ``streamlit run``).

Measured per model size (100 and 5,000 nodes, generated ResNet-like chains), interleaved and repeated:

* ``open``: click "Open uploaded model" until the app reports the model open and is idle;
* ``graph``: switch to the Graph page until the chart's canvas is drawn and the app is idle;
* ``open_to_graph``: the two together, i.e. from opening a model to an interactive graph;
* ``select``: click a node until the inspector shows it;
* ``edit``: click "Apply edit" (remove a node) until the app reports the new revision and is idle;
* ``undo``: click "Undo" until the app reports it and is idle.

Each repeat is one browser tab (a user's session) that opens both models in turn, alternating the order;
a first, unreported pass warms the server and the browser's cache. The baseline, measured in the same
tab each time, is a Streamlit round trip without model work (switching to the Share page). Results:
medians with min-max over repeats, and ratios to the baseline.

Usage::

    python bench/ui.py [--repeats 5] [--json bench/results/ui.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from editor_ui import testing
from editor_ui.samples import residual_cnn
from modelps import io
from modelps.model import Model

SIZES = (100, 5000)
NODE = "/block0/Relu_3"


def _timed(action: Any, done: Any) -> float:
    start = time.perf_counter()
    action()
    done()
    return time.perf_counter() - start


def measure_model(page: Any, path: Path) -> dict[str, float]:
    """One pass over a model in an open tab: open, graph, select, edit, undo; seconds per step."""
    side = page.locator('[data-testid="stSidebar"]')
    base = _timed(
        lambda: side.get_by_text("Share", exact=True).click(),
        lambda: (testing.wait_text(page, "Share"), testing.wait_idle(page)),
    )
    testing.choose_file(page, path)
    t_open = _timed(
        lambda: page.get_by_role("button", name="Open uploaded model").click(),
        lambda: (testing.wait_text(page, f"Opened {path.name}"), testing.wait_idle(page)),
    )
    t_graph = _timed(
        lambda: side.get_by_text("Graph", exact=True).click(),
        lambda: (testing.graph_canvas(page), testing.wait_idle(page)),
    )
    data, view = testing.node_view(Model.load(path))
    t_select = _timed(lambda: None, lambda: testing.click_node(page, view, data, NODE))
    t_edit = _timed(
        lambda: page.get_by_role("button", name="Apply edit").first.click(),
        lambda: (testing.wait_text(page, f"Applied remove_node(node='{NODE}') as revision 1"), testing.wait_idle(page)),
    )
    t_undo = _timed(
        lambda: page.get_by_role("button", name="Undo").first.click(),
        lambda: (testing.wait_text(page, f"Undid remove_node(node='{NODE}')"), testing.wait_idle(page)),
    )
    return {
        "baseline": base,
        "open": t_open,
        "graph": t_graph,
        "open_to_graph": t_open + t_graph,
        "select": t_select,
        "edit": t_edit,
        "undo": t_undo,
    }


def summarize(samples: dict[int, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians, ranges and ratios to the baseline per size and step."""
    out: dict[str, Any] = {}
    for size, runs in samples.items():
        base = statistics.median(r["baseline"] for r in runs)
        steps = {}
        for key in runs[0]:
            values = [r[key] for r in runs]
            med = statistics.median(values)
            steps[key] = {
                "median_s": round(med, 3),
                "min_s": round(min(values), 3),
                "max_s": round(max(values), 3),
                "x_baseline": round(med / base, 2) if base else None,
            }
        out[str(size)] = steps
    return out


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench/results/ui.json"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="modelps-bench-ui-") as tmp:
        home = Path(tmp)
        paths = {}
        for size in SIZES:
            paths[size] = home / f"chain{size}.onnx"
            io.save(residual_cnn(size), paths[size])
        env = {"MODELPS_HOME": str(home), "MODELPS_DB": f"sqlite:///{home / 'sessions.db'}"}
        samples: dict[int, list[dict[str, float]]] = {size: [] for size in SIZES}
        with testing.app_server(env) as url, sync_playwright() as p:
            browser = testing.launch_browser(p)
            for rep in range(args.repeats + 1):  # the first pass warms the server and the browser cache
                context = browser.new_context(viewport={"width": 1500, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(120_000)
                testing.login(page, url, f"bench{rep}")
                for size in SIZES if rep % 2 == 0 else SIZES[::-1]:
                    try:
                        timings = measure_model(page, paths[size])
                    except Exception:
                        page.screenshot(path="artifacts/bench-failure.png")
                        raise
                    if rep:
                        samples[size].append(timings)
                context.close()
            browser.close()
    result = {
        "repeats": args.repeats,
        "sizes": list(SIZES),
        "results": summarize(samples),
        "raw": {str(k): v for k, v in samples.items()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'nodes':>6} {'step':>14} {'median s':>9} {'min-max s':>13} {'x baseline':>10}")
    for size, steps in result["results"].items():
        for key, row in steps.items():
            print(
                f"{size:>6} {key:>14} {row['median_s']:>9.3f} {row['min_s']:>6.3f}-{row['max_s']:<6.3f} "
                f"{row['x_baseline']:>10}"
            )


if __name__ == "__main__":
    main()
