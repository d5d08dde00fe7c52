"""Bad input, conflicts, rebase and roles: each refused with a specific error and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelps.errors import EditError, ModelLoadError, UnknownEditError, ValidationError
from modelps.sessions import (
    ConflictError,
    PermissionDenied,
    RebaseError,
    RevisionNotFound,
    SessionError,
    SessionNotFound,
    SessionStore,
)


def rename(old: str, new: str) -> dict[str, str]:
    return {"op": "rename", "kind": "node", "old": old, "new": new}


@pytest.fixture
def sid(store: SessionStore, model_path: Path) -> str:
    session = store.create_session(model_path, name="chain", user="ann")
    store.share(session.id, "ann", "ed", "editor")
    store.share(session.id, "ann", "vic", "viewer")
    return session.id


def test_unknown_session(store: SessionStore) -> None:
    for call in (
        lambda: store.log("nope"),
        lambda: store.head("nope"),
        lambda: store.materialize("nope"),
        lambda: store.apply("nope", "ann", rename("n0", "a"), expect_revision=0),
    ):
        with pytest.raises(SessionNotFound, match="no session with id 'nope'"):
            call()


def test_conflict_names_the_current_revision(store: SessionStore, sid: str) -> None:
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    with pytest.raises(ConflictError, match="made against revision 0 but the current revision is 1") as caught:
        store.apply(sid, "ed", rename("n1", "b"), expect_revision=0)
    assert (caught.value.expected, caught.value.current) == (0, 1)
    assert store.head(sid) == 1
    with pytest.raises(ConflictError, match="current revision is 1"):
        store.undo(sid, "ed", expect_revision=0)


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        ('{"op": "rename", "kind": "node"', EditError, "not valid JSON"),
        ("[1, 2]", EditError, "must be a JSON object"),
        ('{"op": "paint_it_black"}', UnknownEditError, "unknown edit 'paint_it_black'"),
        ({"op": "rename", "kind": "node", "old": "n0"}, EditError, "missing parameter 'new'"),
        ({"op": "rename", "kind": "node", "old": "n0", "new": 3}, EditError, "parameter 'new' must be str"),
        (rename("ghost", "a"), EditError, "ghost"),
        # applies but the result is invalid: 'alpha' is no attribute of Relu
        ({"op": "set_attribute", "node": "act", "name": "alpha", "value": 0.5}, EditError, "invalid"),
    ],
)
def test_bad_edits_store_nothing(store: SessionStore, sid: str, edit: object, error: type, message: str) -> None:
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    before = store.materialize(sid).to_bytes()
    with pytest.raises(error, match=message):
        store.apply(sid, "ed", edit, expect_revision=1)  # type: ignore[arg-type]
    assert store.head(sid) == 1
    assert len(store.log(sid)) == 2
    assert store.materialize(sid).to_bytes() == before
    # the writer's cached head model was rolled back too: the next edit builds on revision 1
    store.apply(sid, "ed", rename("n1", "b"), expect_revision=1)
    assert store.materialize(sid).nodes_named()[:2] == ["a", "b"]


def test_revisions_from_the_future(store: SessionStore, sid: str) -> None:
    with pytest.raises(RevisionNotFound, match="revision 5 is from the future; the current revision is 0"):
        store.apply(sid, "ann", rename("n0", "a"), expect_revision=5)
    with pytest.raises(RevisionNotFound, match="from the future"):
        store.materialize(sid, 3)
    with pytest.raises(RevisionNotFound, match="from the future"):
        store.checkout(sid, "ann", 1)
    with pytest.raises(RevisionNotFound, match="not a revision number"):
        store.materialize(sid, -1)
    with pytest.raises(RevisionNotFound, match="from the future"):
        store.revision(sid, 9)
    assert store.head(sid) == 0


def test_bad_model_files(store: SessionStore, tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelLoadError):
        store.create_session(tmp_path / "junk.onnx", name="x", user="ann")
    with pytest.raises(ModelLoadError, match="no such model file"):
        store.create_session(tmp_path / "missing.onnx", name="x", user="ann")


def test_invalid_base_model_is_refused(store: SessionStore, tmp_path: Path) -> None:
    import onnx_ir as ir

    model = ir.from_onnx_text(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2,3] x) => (float[2,3] y) { y = Relu <alpha = 1.0> (x) }"""
    )
    ir.save(model, str(tmp_path / "bad.onnx"))
    with pytest.raises(ValidationError, match="the base model fails validation"):
        store.create_session(tmp_path / "bad.onnx", name="x", user="ann")


def test_rebase_replays_an_edit_that_still_applies(store: SessionStore, sid: str) -> None:
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    rev = store.rebase(sid, "ed", rename("n1", "b"), made_against=0)
    assert (rev.revision, rev.author) == (2, "ed")
    assert store.materialize(sid).nodes_named()[:2] == ["a", "b"]


def test_rebase_explains_why_an_edit_no_longer_applies(store: SessionStore, sid: str) -> None:
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    with pytest.raises(RebaseError) as caught:
        store.rebase(sid, "ed", rename("n0", "zero"), made_against=0)
    text = str(caught.value)
    assert "made against revision 0" in text and "no longer applies on revision 1" in text
    assert "'n0'" in text and "r1 by ann: rename(" in text
    assert store.head(sid) == 1


def test_viewer_cannot_edit_and_says_why(store: SessionStore, sid: str) -> None:
    with pytest.raises(PermissionDenied, match="'vic' is a viewer of session .* cannot edit it; ask its owner"):
        store.apply(sid, "vic", rename("n0", "a"), expect_revision=0)
    with pytest.raises(PermissionDenied, match="viewer"):
        store.undo(sid, "vic")
    with pytest.raises(PermissionDenied, match="viewer"):
        store.checkout(sid, "vic", 0)
    assert store.head(sid) == 0
    assert store.materialize(sid, user="vic").nodes_named()[0] == "n0"  # viewers read
    assert [r.revision for r in store.log(sid, "vic")] == [0]


def test_non_members_cannot_read(store: SessionStore, sid: str, tmp_path: Path) -> None:
    for call in (
        lambda: store.log(sid, "mallory"),
        lambda: store.head(sid, "mallory"),
        lambda: store.materialize(sid, user="mallory"),
        lambda: store.recipe(sid, user="mallory"),
        lambda: store.comments(sid, "mallory"),
        lambda: store.export_bundle(sid, tmp_path / "b.zip", "mallory"),
        lambda: store.add_comment(sid, "mallory", "hi"),
        lambda: store.apply(sid, "mallory", rename("n0", "a"), expect_revision=0),
    ):
        with pytest.raises(PermissionDenied, match="'mallory' is not a member of session"):
            call()
    assert not (tmp_path / "b.zip").exists()
    assert sid not in {s.id for s in store.list_sessions("mallory")}


def test_only_the_owner_shares(store: SessionStore, sid: str) -> None:
    with pytest.raises(PermissionDenied, match="'ed' is an editor .* only its owner can"):
        store.share(sid, "ed", "zoe", "editor")
    with pytest.raises(SessionError, match="choose 'editor' or 'viewer'"):
        store.share(sid, "ann", "zoe", "owner")
    with pytest.raises(SessionError, match="owner's role cannot change"):
        store.share(sid, "ann", "ann", "viewer")
    store.share(sid, "ann", "vic", "editor")  # promote
    store.apply(sid, "vic", rename("n0", "a"), expect_revision=0)
    store.revoke(sid, "ann", "vic")
    with pytest.raises(PermissionDenied, match="not a member"):
        store.log(sid, "vic")
    assert store.members(sid) == {"ann": "owner", "ed": "editor"}
    assert store.log(sid)[1].author == "vic"  # history keeps the author


def test_writes_need_a_user(store: SessionStore, sid: str) -> None:
    with pytest.raises(PermissionDenied, match="needs a user name"):
        store.apply(sid, None, rename("n0", "a"), expect_revision=0)  # type: ignore[arg-type]
