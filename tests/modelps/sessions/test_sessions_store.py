"""The session store's API: history, materialisation, undo/checkout, recipes, diffs, comments, bundles."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import onnx_ir as ir
import pytest
import sqlalchemy as sa

import modelps
from modelps import io, runtime
from modelps.sessions import RevisionInfo, SessionStore
from modelps.sessions.schema import snapshots


def rename(old: str, new: str) -> dict[str, str]:
    return {"op": "rename", "kind": "node", "old": old, "new": new}


def test_create_apply_log_materialize(store: SessionStore, model_path: Path) -> None:
    info = store.create_session(model_path, name="chain", user="ann")
    assert (info.head, info.owner, info.base_sha256) == (0, "ann", io.file_sha256(model_path))
    r1 = store.apply(info.id, "ann", rename("n0", "first"), expect_revision=0, message="clearer name")
    r2 = store.apply(info.id, "ann", '{"op": "add_output", "tensor": "t1"}', expect_revision=1)
    assert (r1.revision, r1.parent, r2.revision, r2.parent) == (1, 0, 2, 1)
    log = store.log(info.id)
    assert [r.revision for r in log] == [0, 1, 2]
    assert [r.kind for r in log] == ["create", "edit", "edit"]
    assert log[1].edit == rename("n0", "first") and log[1].message == "clearer name" and log[1].author == "ann"
    assert store.head(info.id) == 2

    # the stored model equals replaying the same edits on the base with the core library
    expected = modelps.Model.load(model_path)
    expected.apply(rename("n0", "first"))
    expected.apply({"op": "add_output", "tensor": "t1"})
    got = store.materialize(info.id)
    assert got.to_bytes() == expected.to_bytes()
    assert [v.name for v in got.ir.graph.outputs] == ["y", "t1"]
    assert store.materialize(info.id, 1).nodes_named()[0] == "first"
    assert store.materialize(info.id, 0).to_bytes() == modelps.Model.load(model_path).to_bytes()


def test_undo_and_checkout_add_revisions_and_keep_history(store: SessionStore, model_path: Path) -> None:
    sid = store.create_session(model_path, name="chain", user="ann").id
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    store.apply(sid, "ann", rename("n1", "b"), expect_revision=1)
    undo1 = store.undo(sid, "ann")
    assert (undo1.revision, undo1.kind, undo1.target, undo1.edit) == (
        3,
        "undo",
        1,
        {"op": "undo", "reverts": 2, "to": 1},
    )
    assert store.materialize(sid).nodes_named()[:2] == ["a", "n1"]
    undo2 = store.undo(sid, "ann")  # a second undo peels off the edit before
    assert undo2.target == 0
    assert store.materialize(sid).to_bytes() == store.materialize(sid, 0).to_bytes()
    with pytest.raises(modelps.ModelPSError, match="nothing to undo"):
        store.undo(sid, "ann")
    back = store.checkout(sid, "ann", 2)
    assert (back.revision, back.kind, back.target) == (5, "checkout", 2)
    assert store.materialize(sid).to_bytes() == store.materialize(sid, 2).to_bytes()
    # undoing a checkout returns to the state before it
    store.undo(sid, "ann")
    assert store.materialize(sid).to_bytes() == store.materialize(sid, 4).to_bytes()
    # an edit after undos builds on the reverted state, and nothing was rewritten
    store.apply(sid, "ann", rename("n2", "c"), expect_revision=6)
    assert store.materialize(sid).nodes_named()[:3] == ["n0", "n1", "c"]
    assert [r.kind for r in store.log(sid)] == ["create", "edit", "edit", "undo", "undo", "checkout", "undo", "edit"]
    assert [e.to_dict() for e in store.recipe(sid).edits] == [rename("n2", "c")]


def test_recipe_export_replays_to_the_exported_model(store: SessionStore, model_path: Path, tmp_path: Path) -> None:
    sid = store.create_session(model_path, name="chain", user="ann").id
    store.apply(sid, "ann", rename("n3", "last"), expect_revision=0)
    store.apply(sid, "ann", {"op": "remove_node", "node": "n1"}, expect_revision=1)
    store.export_recipe(sid, tmp_path / "r.json")
    store.export_onnx(sid, tmp_path / "m.onnx")
    recipe = modelps.Recipe.load(tmp_path / "r.json")
    assert recipe.base_sha256 == io.file_sha256(model_path)
    replayed = modelps.Model.load(model_path)
    replayed.apply_recipe(recipe)
    assert replayed.to_bytes() == modelps.Model.load(tmp_path / "m.onnx").to_bytes()
    feeds = runtime.make_inputs(replayed.ir, seed=0)
    (before,) = runtime.run(modelps.Model.load(model_path).ir, feeds).values()
    (after,) = runtime.run(io.load(tmp_path / "m.onnx"), feeds).values()
    np.testing.assert_array_equal(before, after)  # renames and Identity removal keep the function


def test_diff_between_revisions(store: SessionStore, model_path: Path) -> None:
    sid = store.create_session(model_path, name="chain", user="ann").id
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    store.apply(sid, "ann", rename("n1", "b"), expect_revision=1)
    store.undo(sid, "ann")
    store.apply(sid, "ann", rename("n2", "c"), expect_revision=3)
    diff = store.diff(sid, 2, 4)
    assert (diff.common, diff.only_a, diff.only_b) == (1, [rename("n1", "b")], [rename("n2", "c")])


def test_snapshots_are_written_for_slow_replays_and_used(db_url: str, model_path: Path, tmp_path: Path) -> None:
    with SessionStore(db_url, blob_dir=tmp_path / "blobs", snapshot_after_s=0.0) as store:
        sid = store.create_session(model_path, name="chain", user="ann").id
        for n in range(3):
            store.apply(sid, "ann", rename(f"n{n}", f"m{n}"), expect_revision=n)
        reference = store.materialize(sid, 2).to_bytes()  # replays 2 edits: a snapshot of revision 2 is stored
        store.wait_for_snapshots()
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(snapshots.c.revision, snapshots.c.sha256).where(snapshots.c.session_id == sid)
            )
            snaps = dict(rows.all())
        assert 2 in snaps
        assert store.blobs.get(snaps[2]) == reference
        assert store.materialize(sid, 2).to_bytes() == reference
        assert store.materialize(sid).nodes_named()[:3] == ["m0", "m1", "m2"]  # replays on top of the snapshot
        # a lost snapshot blob is not fatal: the store replays from the base instead
        store.blobs.path(snaps[2]).unlink()
        assert store.materialize(sid, 2).to_bytes() == reference


def test_comments_on_session_and_node(store: SessionStore, model_path: Path) -> None:
    sid = store.create_session(model_path, name="chain", user="ann").id
    store.share(sid, "ann", "vic", "viewer")
    store.add_comment(sid, "ann", "let's prune this")
    note = store.add_comment(sid, "vic", "is n2 needed?", node="n2", revision=0)
    assert (note.author, note.node, note.revision) == ("vic", "n2", 0)
    assert [c.text for c in store.comments(sid, "vic")] == ["let's prune this", "is n2 needed?"]
    assert [c.author for c in store.comments(sid, node="n2")] == ["vic"]
    with pytest.raises(modelps.ModelPSError, match="needs some text"):
        store.add_comment(sid, "ann", "   ")
    with pytest.raises(modelps.ModelPSError, match="from the future"):
        store.add_comment(sid, "ann", "later", revision=7)


def test_bundle_round_trip(store: SessionStore, model_path: Path, tmp_path: Path) -> None:
    sid = store.create_session(model_path, name="chain", user="ann").id
    store.share(sid, "ann", "bob", "editor")
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0, message="first")
    store.apply(sid, "bob", rename("n1", "b"), expect_revision=1)
    store.undo(sid, "bob")
    store.apply(sid, "ann", {"op": "add_output", "tensor": "t2"}, expect_revision=3)
    store.add_comment(sid, "bob", "nice", node="a")
    path = store.export_bundle(sid, tmp_path / "s.zip")
    imported = store.import_bundle(path, "carl")
    assert (imported.owner, imported.head, imported.name) == ("carl", 4, "chain")
    old, new = store.log(sid), store.log(imported.id)
    assert [_comparable(r) for r in old] == [_comparable(r) for r in new]
    assert store.materialize(imported.id).to_bytes() == store.materialize(sid).to_bytes()
    assert [(c.author, c.text, c.node) for c in store.comments(imported.id)] == [("bob", "nice", "a")]
    assert store.members(imported.id) == {"carl": "owner"}
    assert store.base_bytes(imported.id) == model_path.read_bytes()


def test_bundle_with_an_invalid_edit_imports_nothing(store: SessionStore, model_path: Path, tmp_path: Path) -> None:
    import zipfile

    sid = store.create_session(model_path, name="chain", user="ann").id
    store.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
    path = store.export_bundle(sid, tmp_path / "s.zip")
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(entries["modelps_session.json"])
    meta["revisions"][1]["edit"] = rename("no_such_node", "z")
    entries["modelps_session.json"] = json.dumps(meta).encode()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    before = len(store.list_sessions())
    with pytest.raises(modelps.EditError, match="bundle revision 1: .*no_such_node"):
        store.import_bundle(bad, "carl")
    assert len(store.list_sessions()) == before
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(modelps.ModelPSError, match="not a session bundle"):
        store.import_bundle(tmp_path / "junk.zip", "carl")


def test_list_sessions_by_member(store: SessionStore, model_path: Path) -> None:
    ann, bob = f"ann-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"  # the PostgreSQL database is shared
    a = store.create_session(model_path, name="one", user=ann).id
    b = store.create_session(model_path, name="two", user=bob).id
    store.share(b, bob, ann, "viewer")
    mine = {s.id: s.role for s in store.list_sessions(ann)}
    assert mine == {a: "owner", b: "viewer"}
    assert {s.id for s in store.list_sessions(bob)} == {b}
    assert {a, b} <= {s.id for s in store.list_sessions()}


def test_base_with_external_data_is_stored_self_contained(store: SessionStore, tmp_path: Path) -> None:
    weights = ir.tensor(np.arange(600, dtype=np.float32).reshape(2, 300), name="w")
    model = ir.from_onnx_text(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2,300] x) => (float[2,300] y) { y = Add(x, w) }"""
    )
    value = ir.Value(name="w", shape=ir.Shape([2, 300]), type=ir.TensorType(ir.DataType.FLOAT), const_value=weights)
    model.graph.initializers["w"] = value
    model.graph.node(0).replace_input_with(1, value)
    ir.save(model, str(tmp_path / "ext.onnx"), external_data="ext.data", size_threshold_bytes=16)
    sid = store.create_session(tmp_path / "ext.onnx", name="ext", user="ann").id
    (tmp_path / "ext.data").unlink()  # the session no longer needs the original files
    got = store.materialize(sid)
    np.testing.assert_array_equal(got.ir.graph.initializers["w"].const_value.numpy(), weights.numpy())


def _comparable(rev: RevisionInfo) -> tuple[object, ...]:
    return (rev.revision, rev.parent, rev.author, rev.kind, rev.edit, rev.target, rev.message, rev.time.timestamp())


def test_clients_with_their_own_blob_folders(db_url: str, model_path: Path, tmp_path: Path) -> None:
    from modelps.sessions import StoreError

    with SessionStore(db_url, blob_dir=tmp_path / "a") as first:
        sid = first.create_session(model_path, name="shared", user="ann").id
        first.apply(sid, "ann", rename("n0", "a"), expect_revision=0)
        expected = first.materialize(sid).to_bytes()
        server = not first.engine.dialect.name == "sqlite"
    # a client on another machine: empty blob folder; PostgreSQL stores keep base models in the database
    with SessionStore(db_url, blob_dir=tmp_path / "b") as other:
        assert other.blobs_in_db is server
        if server:
            assert other.materialize(sid).to_bytes() == expected
            assert other.blobs.has(io.file_sha256(model_path))  # cached locally from now on
        else:
            with pytest.raises(StoreError, match="is missing from .*MODELPS_HOME"):
                other.materialize(sid)
    if not server:  # SQLite can keep them in the database too when asked
        with SessionStore(db_url, blob_dir=tmp_path / "c", blobs_in_db=True) as writer:
            sid = writer.create_session(model_path, name="in-db", user="ann").id
        with SessionStore(db_url, blob_dir=tmp_path / "d", blobs_in_db=True) as reader:
            assert reader.materialize(sid).to_bytes() == modelps.Model.load(model_path).to_bytes()
