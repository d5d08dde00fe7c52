"""The Genie, Serve and Share pages' logic over ``genie``, ``serving`` and ``modelps.sessions``.

Each back end is imported lazily; ``*_available()`` says whether it is installed. Every action
returns an :class:`~editor_ui.actions.Outcome` with the message to show. The modules:
:mod:`~editor_ui.panels.genie_runs` (search, candidates), :mod:`~editor_ui.panels.calibration`
(uploaded calibration inputs), :mod:`~editor_ui.panels.server` (the local
model server), :mod:`~editor_ui.panels.serving_ops` (publish, try a served model) and
:mod:`~editor_ui.panels.sharing` (shared sessions).
"""

from editor_ui.panels.availability import genie_available, serving_available, sessions_available
from editor_ui.panels.calibration import CalibrationError, store_calibration
from editor_ui.panels.genie_runs import (
    GENIE_STAGES,
    GenieJob,
    GenieRequest,
    apply_candidate,
    candidate_rows,
    pareto_flags,
    pareto_spec,
    run_genie,
    stage_fraction,
)
from editor_ui.panels.server import (
    ServerState,
    free_port,
    repository,
    safe_name,
    served_models,
    server_state,
    start_server,
    stop_server,
)
from editor_ui.panels.serving_ops import image_input, publish, try_model
from editor_ui.panels.sharing import grant, member_rows, open_session, share_link, share_workspace

__all__ = [
    "GENIE_STAGES",
    "CalibrationError",
    "GenieJob",
    "GenieRequest",
    "ServerState",
    "apply_candidate",
    "candidate_rows",
    "free_port",
    "genie_available",
    "grant",
    "image_input",
    "member_rows",
    "open_session",
    "pareto_flags",
    "pareto_spec",
    "publish",
    "repository",
    "run_genie",
    "safe_name",
    "served_models",
    "server_state",
    "serving_available",
    "sessions_available",
    "share_link",
    "share_workspace",
    "stage_fraction",
    "store_calibration",
    "start_server",
    "stop_server",
    "try_model",
]
