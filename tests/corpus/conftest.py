"""Fixtures of the foreign-model matrix: corpus models built once per session (cached on disk)."""

from __future__ import annotations

import pytest

corpus = pytest.importorskip("zoo.corpus", reason="the corpus needs the zoo and corpus extras")

FAST = corpus.names(include_slow=False)
SLOW = [name for name in corpus.names() if name not in FAST]
ALL = [*FAST, *(pytest.param(name, marks=pytest.mark.slow) for name in SLOW)]


@pytest.fixture
def foreign(request: pytest.FixtureRequest):  # noqa: ANN201  (a zoo.corpus.CorpusModel)
    """The corpus model named by the test's parameter."""
    return corpus.get(request.param)
