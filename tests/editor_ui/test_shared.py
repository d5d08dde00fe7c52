from __future__ import annotations

import uuid

import pytest

from editor_ui import actions, panels, shared
from editor_ui.workspace import LocalWorkspace
from modelps.sessions import PermissionDenied, RebaseError


@pytest.fixture(autouse=True)
def private_db(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPS_DB", f"sqlite:///{tmp_path / 'sessions.db'}")
    monkeypatch.setenv("MODELPS_BLOBS", str(tmp_path / "blobs"))


def _shared(ws: LocalWorkspace) -> shared.SessionWorkspace:
    actions.apply_form(ws, "remove_node", {"node": "/block1/Relu_6"})
    outcome, sws = panels.share_workspace(ws)
    assert outcome.ok, outcome.message
    assert isinstance(sws, shared.SessionWorkspace)
    return sws


def test_sharing_keeps_local_edits_as_revisions(ws: LocalWorkspace) -> None:
    sws = _shared(ws)
    assert sws.revision == 1 and sws.model.to_bytes() == ws.model.to_bytes()
    assert [(e.revision, e.author, e.edit) for e in sws.history()] == [
        (1, "alice", {"op": "remove_node", "node": "/block1/Relu_6"})
    ]
    assert panels.member_rows(sws) == [{"user": "alice", "role": "owner"}]


def test_two_users_see_each_others_edits(ws: LocalWorkspace) -> None:
    alice = _shared(ws)
    assert panels.grant(alice, "bob", "editor").ok
    outcome, bob = panels.open_session(alice.session_id, user="bob")
    assert outcome.ok and bob.revision == 1
    assert actions.apply_form(bob, "remove_node", {"node": "/block2/Relu_11"}).ok
    assert alice.refresh() and alice.revision == 2
    assert alice.history()[-1].author == "bob"
    assert alice.model.to_bytes() == bob.model.to_bytes()
    assert not alice.refresh()


def test_stale_edit_is_rebased(ws: LocalWorkspace) -> None:
    alice = _shared(ws)
    panels.grant(alice, "bob", "editor")
    _, bob = panels.open_session(alice.session_id, user="bob")
    assert actions.apply_form(bob, "remove_node", {"node": "/block2/Relu_11"}).ok
    out = actions.apply_form(alice, "remove_node", {"node": "/block3/Relu_16"})  # alice still shows revision 1
    assert out.ok and out.entry.revision == 3 and out.entry.message == "rebased from revision 1"
    assert out.message == (
        "Applied remove_node(node='/block3/Relu_16') as revision 3 (rebased from revision 1: others edited meanwhile)"
    )
    assert alice.revision == 3 and bob.refresh()
    assert {"/block2/Relu_11", "/block3/Relu_16"}.isdisjoint(bob.model.nodes_named())


def test_stale_edit_that_no_longer_applies_is_refused_with_the_reason(ws: LocalWorkspace) -> None:
    alice = _shared(ws)
    panels.grant(alice, "bob", "editor")
    _, bob = panels.open_session(alice.session_id, user="bob")
    assert actions.apply_form(bob, "remove_node", {"node": "/block2/Relu_11"}).ok
    out = actions.apply_form(alice, "remove_node", {"node": "/block2/Relu_11"})
    assert not out.ok
    assert "no longer applies on revision 2" in out.message and "r2 by bob" in out.message
    with pytest.raises(RebaseError):
        alice.apply({"op": "remove_node", "node": "/block2/Relu_11"})


def test_undo_and_redo_are_new_revisions(ws: LocalWorkspace) -> None:
    alice = _shared(ws)
    before = alice.materialize(0)
    assert actions.undo(alice).ok and alice.revision == 2
    assert len(alice.model.ir.graph) == len(before.graph)
    assert alice.can_redo()
    assert actions.redo(alice).ok and alice.revision == 3
    assert "/block1/Relu_6" not in alice.model.nodes_named()
    assert [e.edit["op"] for e in alice.history()] == ["remove_node", "undo", "remove_node"]


def test_viewers_and_strangers_are_refused(ws: LocalWorkspace) -> None:
    alice = _shared(ws)
    panels.grant(alice, "vera", "viewer")
    _, vera = panels.open_session(alice.session_id, user="vera")
    out = actions.apply_form(vera, "remove_node", {"node": "/block2/Relu_11"})
    assert not out.ok and "vera" in out.message and vera.revision == 1
    outcome, nobody = panels.open_session(alice.session_id, user="mallory")
    assert not outcome.ok and nobody is None and outcome.message.startswith(f"Cannot open session {alice.session_id}")
    outcome, _ = panels.open_session(uuid.uuid4().hex[:12], user="alice")
    assert not outcome.ok
    with pytest.raises(PermissionDenied):
        shared.grant(vera, "eve", "editor")
