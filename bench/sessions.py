"""Session store benchmark: sustained edits/s by 1, 4 and 16 writers, and opening revision 1,000 of ResNet-50.

Usage::

    python bench/sessions.py                       # SQLite and PostgreSQL (127.0.0.1:5432, database test)
    python bench/sessions.py --quick               # fewer repeats, shorter runs
    python bench/sessions.py --pg URL --json out.json

Writers are OS processes, each renaming its own node of a small chain model with
``apply(expect_revision=head)`` and retrying on conflicts for a fixed time; edits/s counts committed
revisions. Variants are interleaved and repeated; medians are reported, with ratios against one
writer on the same database measured in the same run.

The long-session part builds a ResNet-50 (torch, random weights) and exports it to ONNX, stores a
1,000-revision session on it (renames, add/remove outputs, undos, a checkout), then times opening
revision 1,000 (and 500) from a fresh store object against a plain ``modelps.Model.load`` of the
base model (the baseline), interleaved.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# -- concurrent writers ----------------------------------------------------------------------------


def chain_model(path: Path, width: int) -> Path:
    import onnx_ir as ir

    body = []
    previous = "x"
    for index in range(width):
        body.append(f"t{index} = Identity({previous})")
        previous = f"t{index}"
    body.append(f"y = Relu({previous})")
    text = '<ir_version: 8, opset_import: ["" : 17]>\ng (float[2,3] x) => (float[2,3] y) {\n' + "\n".join(body) + "\n}"
    model = ir.from_onnx_text(text)
    for index, node in enumerate(model.graph):
        node.name = f"n{index}" if index < width else "act"
    ir.save(model, str(path))
    return path


def writer(url: str, blobs: str, sid: str, user: str, node: str, go: str, seconds: float, out: mp.Queue) -> None:
    from modelps.sessions import ConflictError, SessionStore

    commits = conflicts = 0
    current = node
    with SessionStore(url, blob_dir=blobs) as store:
        store.head(sid, user)  # connect before the start
        while not os.path.exists(go):
            time.sleep(0.001)
        began = time.perf_counter()
        deadline = began + seconds
        head = store.head(sid)
        while time.perf_counter() < deadline:
            new = f"{user}_{commits + 1}"
            edit = {"op": "rename", "kind": "node", "old": current, "new": new}
            try:
                head = store.apply(sid, user, edit, expect_revision=head).revision
            except ConflictError as exc:  # reload and retry against the revision the error names
                conflicts += 1
                head = exc.current
                continue
            commits += 1
            current = new
        ended = time.perf_counter()
    out.put({"commits": commits, "conflicts": conflicts, "began": began, "ended": ended})


def run_writers(url: str, writers: int, seconds: float, work: Path) -> dict[str, float]:
    from modelps.sessions import SessionStore

    blobs = str(work / "blobs")
    model = chain_model(work / f"chain{writers}.onnx", writers)
    users = [f"w{index}" for index in range(writers)]
    with SessionStore(url, blob_dir=blobs) as store:
        sid = store.create_session(model, name=f"bench{writers}", user="lead").id
        for user in users:
            store.share(sid, "lead", user, "editor")
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    go = work / f"go-{uuid.uuid4().hex}"
    procs = [
        ctx.Process(target=writer, args=(url, blobs, sid, user, f"n{i}", str(go), seconds, queue))
        for i, user in enumerate(users)
    ]
    for proc in procs:
        proc.start()
    time.sleep(2.0 + 0.35 * writers)  # let every process import and connect
    go.touch()
    results = [queue.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    commits = sum(r["commits"] for r in results)
    elapsed = max(r["ended"] for r in results) - min(r["began"] for r in results)
    with SessionStore(url, blob_dir=blobs) as store:
        log = store.log(sid)
        assert [r.revision for r in log] == list(range(commits + 1)), "history is not linear"
    return {"edits_per_s": commits / elapsed, "commits": commits, "conflicts": sum(r["conflicts"] for r in results)}


def bench_writers(urls: dict[str, str], counts: list[int], seconds: float, repeats: int, work: Path) -> dict[str, Any]:
    samples: dict[str, dict[int, list[dict[str, float]]]] = {name: {n: [] for n in counts} for name in urls}
    for rep in range(repeats):
        for n in counts:  # interleaved: every variant once per repeat
            for name, url in urls.items():
                result = run_writers(url, n, seconds, work)
                samples[name][n].append(result)
                print(
                    f"  rep {rep + 1} {name:8s} writers={n:2d}: {result['edits_per_s']:7.1f} edits/s "
                    f"({result['commits']} commits, {result['conflicts']} conflicts)",
                    flush=True,
                )
    summary: dict[str, Any] = {}
    for name in urls:
        base = statistics.median(s["edits_per_s"] for s in samples[name][counts[0]])
        summary[name] = {
            str(n): {
                "edits_per_s_median": statistics.median(s["edits_per_s"] for s in samples[name][n]),
                "ratio_vs_1_writer": statistics.median(s["edits_per_s"] for s in samples[name][n]) / base,
                "conflicts_median": statistics.median(s["conflicts"] for s in samples[name][n]),
                "samples": [round(s["edits_per_s"], 1) for s in samples[name][n]],
            }
            for n in counts
        }
    return summary


# -- long session on ResNet-50 ---------------------------------------------------------------------


def resnet50_onnx(path: Path) -> Path:
    """Export a ResNet-50 (random weights, torchvision's layout written out here) to ONNX."""
    if path.exists():
        return path
    import warnings

    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, mid: int, stride: int) -> None:
            super().__init__()
            cout = mid * 4
            self.conv1, self.bn1 = nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid)
            self.conv2, self.bn2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False), nn.BatchNorm2d(mid)
            self.conv3, self.bn3 = nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)
            self.down = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else None
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skip = x if self.down is None else self.down(x)
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            return torch.relu(self.bn3(self.conv3(y)) + skip)

    class ResNet50(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
            )
            blocks, cin = [], 64
            for mid, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for index in range(count):
                    blocks.append(Bottleneck(cin, mid, stride if index == 0 else 1))
                    cin = mid * 4
            self.layers = nn.Sequential(*blocks)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(x.mean((2, 3)), 1))

    torch.manual_seed(0)
    model = ResNet50().eval()
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), str(tmp), dynamo=False, opset_version=17)
    os.replace(tmp, path)
    return path


def bench_open(url: str, work: Path, revisions: int, repeats: int) -> dict[str, Any]:
    import modelps
    from modelps.sessions import SessionStore

    blobs = str(work / "blobs")
    model = resnet50_onnx(Path(tempfile.gettempdir()) / "modelps-bench-resnet50.onnx")
    sid, build_s = build_long_session(url, blobs, model, revisions)
    print(f"  built a {revisions}-revision ResNet-50 session in {build_s:.1f} s", flush=True)
    with SessionStore(url, blob_dir=blobs) as store:
        kinds = dict(collections.Counter(rev.kind for rev in store.log(sid)))
    samples: dict[str, list[float]] = {"load_base": [], "open_head": [], "open_mid": []}
    with SessionStore(url, blob_dir=blobs) as store:  # the first open ever (may leave a snapshot)
        began = time.perf_counter()
        store.materialize(sid, revisions)
        first = time.perf_counter() - began
    for _ in range(repeats):
        began = time.perf_counter()
        modelps.Model.load(model)
        samples["load_base"].append(time.perf_counter() - began)
        for key, number in (("open_head", revisions), ("open_mid", revisions // 2)):
            with SessionStore(url, blob_dir=blobs) as store:  # fresh object: no in-process cache
                began = time.perf_counter()
                opened = store.materialize(sid, number)
                samples[key].append(time.perf_counter() - began)
                del opened
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {
        "revisions": revisions,
        "build_s": build_s,
        "revision_kinds": kinds,
        "first_open_s": first,
        **{f"{key}_median_s": value for key, value in medians.items()},
        "open_head_vs_load_base": medians["open_head"] / medians["load_base"],
        "samples": {key: [round(v, 3) for v in values] for key, values in samples.items()},
    }


def build_long_session(url: str, blobs: str, model: Path, revisions: int) -> tuple[str, float]:
    """Store ``revisions`` revisions on ``model``: renames, add/remove-output pairs, undos, one checkout."""
    import modelps
    from modelps.sessions import SessionStore

    base = modelps.Model.load(model)
    names = base.nodes_named()
    tensors = [node.outputs[0].name for node in base.ir.graph if node.outputs and node.op_type == "Relu"]
    current = {name: name for name in names}
    began = time.perf_counter()
    with SessionStore(url, blob_dir=blobs) as store:
        sid = store.create_session(model, name="resnet50-long", user="ann").id
        head, step = 0, 0
        while head < revisions:
            step += 1
            if step % 97 == 0 and head >= 10:
                store.checkout(sid, "ann", head - 5, expect_revision=head)
                current = _names_at(store, sid, names)
            elif step % 50 == 0:
                store.undo(sid, "ann", expect_revision=head)
                current = _names_at(store, sid, names)
            elif step % 10 == 0 and head + 2 <= revisions:
                tensor = tensors[step % len(tensors)]
                store.apply(sid, "ann", {"op": "add_output", "tensor": tensor}, expect_revision=head)
                store.apply(sid, "ann", {"op": "remove_output", "output": tensor}, expect_revision=head + 1)
            else:
                name = names[step % len(names)]
                new = f"{name}_r{step}"
                edit = {"op": "rename", "kind": "node", "old": current[name], "new": new}
                store.apply(sid, "ann", edit, expect_revision=head)
                current[name] = new
            head = store.head(sid)
    return sid, time.perf_counter() - began


def _names_at(store: Any, sid: str, originals: list[str]) -> dict[str, str]:
    """Map each original node name to its name at the head (node order never changes with these edits)."""
    return dict(zip(originals, store.materialize(sid).nodes_named(), strict=True))


# -- main ------------------------------------------------------------------------------------------


def pg_database(admin_url: str) -> tuple[str, Any]:
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"modelps_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test", help="admin URL ('' skips)"
    )
    parser.add_argument("--writers", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each writer run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 s runs")
    parser.add_argument("--skip-writers", action="store_true")
    parser.add_argument("--skip-open", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds = 1, 2.0
    counts = [int(n) for n in args.writers.split(",")]
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    cleanups = []
    with tempfile.TemporaryDirectory(prefix="modelps-bench-") as tmp:
        work = Path(tmp)
        urls = {"sqlite": f"sqlite:///{work / 'bench.db'}"}
        if args.pg:
            try:
                urls["postgres"], drop = pg_database(args.pg)
                cleanups.append(drop)
            except Exception as exc:  # noqa: BLE001  (report and go on with SQLite)
                print(f"PostgreSQL skipped: {exc}")
        try:
            if not args.skip_writers:
                print("sustained edits/s by concurrent writers:", flush=True)
                results["writers"] = bench_writers(urls, counts, args.seconds, args.repeats, work)
            if not args.skip_open:
                results["open"] = {}
                for name, url in urls.items():
                    print(f"opening revision {args.revisions} of a ResNet-50 session ({name}):", flush=True)
                    results["open"][name] = bench_open(url, work / name, args.revisions, max(args.repeats, 5))
                    print("  " + json.dumps({k: v for k, v in results["open"][name].items() if k != "samples"}))
        finally:
            for cleanup in cleanups:
                cleanup()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
