"""Build the corpus and print its table: ``python -m zoo.corpus [--fast] [NAME ...]``.

Models already cached are read, not rebuilt; the ``build s`` column is then the time to read them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from zoo import corpus

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Build the named (default: all) corpus models and print a Markdown table of them."""
    parser = argparse.ArgumentParser(prog="python -m zoo.corpus", description=__doc__)
    parser.add_argument("names", nargs="*", help="models to build (default: all)")
    parser.add_argument("--fast", action="store_true", help="leave out the slow models")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = args.names or corpus.names(include_slow=not args.fast)
    out = sys.stdout
    out.write("| model | trained | nodes | params | tags | build s |\n|---|---|---|---|---|---|\n")
    for name in names:
        start = time.perf_counter()
        model = corpus.get(name)
        seconds = time.perf_counter() - start
        tags = ", ".join(sorted(model.tags))
        out.write(
            f"| `{name}` | {'yes' if model.trained else 'no'} | {model.meta['nodes']} | {model.param_count:,} "
            f"| {tags} | {seconds:.1f} |\n"
        )
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
