"""The model genie: measured, latency-targeted pruning and quantization recommendations.

Python API::

    from genie import Goal, search
    result = search("model.onnx", Goal(target_speedup=2.0, min_fidelity=0.99), progress=print)
    result.recommended          # a Candidate (recipe, latency_ms, speedup, fidelity, ...) or None
    result.message              # why this one, or why none
    for cand in result.candidates: ...

The search only proposes: apply a candidate's ``recipe`` to a model (``Model.apply_recipe``) to
use it.
"""

from genie.measure import BACKENDS, BackendUnavailable, Timing, measure
from genie.search import Candidate, Goal, SearchResult, pareto_front, recommend, search

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "Candidate",
    "Goal",
    "SearchResult",
    "Timing",
    "measure",
    "pareto_front",
    "recommend",
    "search",
]
