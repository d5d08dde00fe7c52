"""Markdown tables and verdicts for ``bench/genie_baselines.py`` results."""

from __future__ import annotations

from typing import Any

from genie.recommend import SAME_SPEED  # the genie's own rule: speed-ups within 3% count as equal

__all__ = ["render", "render_defaults", "verdict"]

FLOOR = 0.99


def _fmt(row: dict[str, Any], key: str, spec: str) -> str:
    value = row.get(key)
    return format(value, spec) if isinstance(value, (int, float)) else "—"


def _truer(g: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """``g`` is more faithful than ``b`` by more than twice the larger standard error."""
    if not g or not b:
        return False
    margin = 2 * max(g.get("fidelity_se", 0.0), b.get("fidelity_se", 0.0), 1e-4)
    return bool(g["fidelity"] > b["fidelity"] + margin)


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """The genie's recommendation against the best baseline at the floor, and the baselines it beats."""
    rows = result["rows"]
    measured = {k: r for k, r in rows.items() if "speedup" in r}
    base = {k: r for k, r in measured.items() if r["tool"] not in ("genie", "fp32")}
    genie = {k: r for k, r in measured.items() if r["tool"] == "genie" and k.startswith("genie:")}
    at_floor = {k: r for k, r in base.items() if r["fidelity"] >= FLOOR}
    best_base = max(at_floor, key=lambda k: at_floor[k]["speedup"], default="original")
    best_speed = measured[best_base]["speedup"] if best_base in measured else 1.0
    rec = next((k for k, r in genie.items() if r.get("recommended")), None)
    rec_speed = genie[rec]["speedup"] if rec else 1.0
    beaten = []
    for label, b in base.items():
        for g_label, g in genie.items():
            faster = g["speedup"] > b["speedup"] / SAME_SPEED and g["fidelity"] >= b["fidelity"]
            truer = g["speedup"] >= SAME_SPEED * b["speedup"] and _truer(g, b)
            if faster or truer:
                beaten.append(f"{label} (by {g_label})")
                break
    rec_meets = rec is not None and genie[rec]["fidelity"] >= FLOOR
    return {
        "rec_meets_floor": rec_meets,
        "best_baseline_at_floor": best_base,
        "best_baseline_speedup": best_speed,
        "recommended": rec,
        "recommended_speedup": rec_speed,
        "at_least_as_fast": (rec_meets and rec_speed >= SAME_SPEED * best_speed)
        or (rec is None and best_base == "original"),
        "strictly_better": rec_meets
        and rec_speed >= SAME_SPEED * best_speed
        and (rec_speed > best_speed / SAME_SPEED or _truer(genie.get(rec or ""), measured.get(best_base))),
        "beaten": beaten,
    }


def render(results: list[dict[str, Any]]) -> str:
    """One table per model and a summary table."""
    out = ["| model | best baseline at >= 0.99 | genie recommendation (default flags) | verdict | "
           "genie wall / budget | peak RSS |", "|---|---|---|---|---|---|"]  # fmt: skip
    details = []
    for result in results:
        v = verdict(result)
        rows = result["rows"]
        g = rows.get(v["recommended"] or "", next((r for k, r in rows.items() if k.startswith("genie:")), {}))
        g = g or next((r for k, r in rows.items() if k.startswith("genie")), {})
        wall = f"{g.get('wall_s', 0):.0f} / {g.get('budget_s', 300):.0f} s" if g else "—"
        rss = f"{g.get('peak_rss_mb', 0):,.0f} MB" if g else "—"
        base = f"{v['best_baseline_at_floor']} {v['best_baseline_speedup']:.2f}x"
        rec = f"{v['recommended_speedup']:.2f}x @ {g.get('fidelity', 1.0):.4f}" if v["recommended"] else "none"
        word = "better" if v["strictly_better"] else "as fast" if v["at_least_as_fast"] else "**slower**"
        if not v["recommended"] and v["best_baseline_at_floor"] == "original":
            word = "as fast: nothing reaches 0.99 (keep the original)"
        if v["recommended"] and not v["rec_meets_floor"]:
            fid, est = g.get("fidelity", 0.0), g.get("search_fidelity", 0.0)
            word = f"**below 0.99 on the held-out inputs** ({fid:.4f}; {est:.4f} in the search)"
        out.append(f"| {result['model']} | {base} | {rec} | {word} | {wall} | {rss} |")
        details += [f"\n### {result['model']}\n", f"{result['origin']}. Calibration: {result['calib_n']} inputs; "
                    f"judged on {result['eval_n']} other held-out inputs; task metric: {result['metric']}.\n",
                    "| variant | speed-up (p10–p90) | ms | centred cosine ± SE | task metric | MB | build s | note |",
                    "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for label, r in rows.items():
            spread = r.get("speedup_spread") or [None, None]
            sp = f"{r['speedup']:.2f}x ({spread[0]:.2f}–{spread[1]:.2f})" if "speedup" in r else "—"
            fid = f"{r['fidelity']:.4f} ± {r.get('fidelity_se', 0):.4f}" if "fidelity" in r else "—"
            note = str(r.get("note", "")).replace("|", "/")[:120]
            details.append(f"| {label} | {sp} | {_fmt(r, 'latency_ms', '.2f')} | {fid} | "
                           f"{_fmt(r, 'task_metric', '.4f')} | {_fmt(r, 'size_mb', '.1f')} | "
                           f"{_fmt(r, 'build_s', '.0f')} | {note} |")  # fmt: skip
        if v["beaten"]:
            details.append("\nBaselines a genie variant beats (faster at no less fidelity, or more faithful at "
                           "equal speed): " + "; ".join(v["beaten"]) + ".")  # fmt: skip
    return "\n".join(out + details) + "\n"


def render_defaults(result: dict[str, Any]) -> str:
    """The default invocation against the tuned one on one model (``--defaults-vs-tuned``)."""
    rows = result["rows"]
    out = [f"\n### {result['model']}: default against tuned\n",
           "| run | wall / budget | peak RSS | recommended (fidelity on the held-out task inputs) | "
           "fastest candidate at >= 0.99 there |", "|---|---|---|---|---|"]  # fmt: skip
    picked = {}
    for run in ("genie default (5 images)", "genie tuned"):
        mine = {k.split(": ", 1)[1]: r for k, r in rows.items() if k.startswith(run + ": ") and "speedup" in r}
        if not mine:
            continue
        any_row = next(iter(mine.values()))
        rec = next(((k, r) for k, r in mine.items() if r.get("recommended")), None)
        ok = [(k, r) for k, r in mine.items() if r["fidelity"] >= FLOOR]
        fast = max(ok, key=lambda item: item[1]["speedup"], default=None)
        picked[run] = rec[1]["speedup"] if rec and rec[1]["fidelity"] >= FLOOR else 1.0
        rec_text = f"{rec[0]} {rec[1]['speedup']:.2f}x @ {rec[1]['fidelity']:.4f}" if rec else "none"
        fast_text = f"{fast[0]} {fast[1]['speedup']:.2f}x @ {fast[1]['fidelity']:.4f}" if fast else "none"
        out.append(f"| {run} | {any_row.get('wall_s', 0):.0f} / {any_row.get('budget_s', 0):.0f} s | "
                   f"{any_row.get('peak_rss_mb', 0):,.0f} MB | {rec_text} | {fast_text} |")  # fmt: skip
    best = verdict(result)["best_baseline_at_floor"]
    if best != "original":
        out.append(f"\nbest baseline at >= 0.99 in the same run: {best} {rows[best]['speedup']:.2f}x "
                   f"@ {rows[best]['fidelity']:.4f}")  # fmt: skip
    if len(picked) == 2:
        ratio = picked["genie default (5 images)"] / picked["genie tuned"]
        out.append(f"\ndefault / tuned speed-up of the recommendation (at >= 0.99 there): {ratio:.2f} "
                   f"(goal >= 0.95: {'met' if ratio >= 0.95 else 'not met'})")  # fmt: skip
    return "\n".join(out) + "\n"
