"""``modelps session ...`` end to end through the real command-line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import modelps
from modelps.cli import main


class Cli:
    """Runs ``modelps session`` commands against one database and captures their output."""

    def __init__(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = db
        self.capsys = capsys

    def __call__(self, *args: object, code: int = 0) -> str:
        self.capsys.readouterr()
        rc = main(["session", *map(str, args), "--db", self.db])
        out, err = self.capsys.readouterr()
        assert rc == code, err
        self.err = err
        return out

    def json(self, *args: object) -> dict:
        return json.loads(self(*args, "--json"))


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("MODELPS_BLOBS", str(tmp_path / "blobs"))
    return Cli(db_url, capsys)


def test_session_workflow(cli: Cli, model_path: Path, tmp_path: Path) -> None:
    sid = cli("create", model_path, "--name", "chain", "--user", "ann").strip()
    assert cli.json("create", model_path, "--name", "other", "--user", "ann")["head"] == 0
    edit = json.dumps({"op": "rename", "kind": "node", "old": "n0", "new": "a"})
    assert cli("apply", sid, "--user", "ann", "--expect-revision", 0, "--edit", edit, "-m", "hi").strip() == "1"

    # a stale writer gets exit 1 and a message naming the current revision
    stale = json.dumps({"op": "rename", "kind": "node", "old": "n1", "new": "b"})
    cli("apply", sid, "--user", "ann", "--expect-revision", 0, "--edit", stale, code=1)
    assert "current revision is 1" in cli.err and cli.err.startswith("modelps: error:")
    assert cli.json("apply", sid, "--user", "ann", "--expect-revision", 0, "--edit", stale, "--rebase")["revision"] == 2

    (tmp_path / "edit.json").write_text(json.dumps({"op": "add_output", "tensor": "t3"}))
    cli("apply", sid, "--user", "ann", "--expect-revision", 2, "--edit", f"@{tmp_path / 'edit.json'}")
    assert cli("undo", sid, "--user", "ann").strip() == "4"
    assert cli.json("checkout", sid, 1, "--user", "ann")["target"] == 1
    assert cli("head", sid).strip() == "5"

    log = cli.json("log", sid)
    assert [r["revision"] for r in log["revisions"]] == [0, 1, 2, 3, 4, 5]
    first = log["revisions"][1]
    assert (first["author"], first["edit"], first["message"]) == ("ann", json.loads(edit), "hi")
    assert all({"revision", "author", "time", "edit"} <= set(r) for r in log["revisions"])
    assert "rename" in cli("log", sid)

    cli("export", sid, "--revision", 3, "-o", tmp_path / "r3.onnx")
    cli("export", sid, "--revision", 3, "-o", tmp_path / "r3.json")
    model = modelps.Model.load(model_path)
    model.apply_recipe(modelps.Recipe.load(tmp_path / "r3.json"))
    assert model.to_bytes() == modelps.Model.load(tmp_path / "r3.onnx").to_bytes()
    assert [v.name for v in model.ir.graph.outputs] == ["y", "t3"]
    cli("export", sid, "-o", tmp_path / "r.txt", code=1)
    assert ".onnx" in cli.err

    diff = cli.json("diff", sid, 3, 5)
    assert diff["common"] == 1 and len(diff["only_a"]) == 2 and diff["only_b"] == []


def test_roles_comments_and_bundles(cli: Cli, model_path: Path, tmp_path: Path) -> None:
    sid = cli("create", model_path, "--name", "chain", "--user", "ann").strip()
    cli("share", sid, "--user", "ann", "--grant", "vic", "--role", "viewer")
    assert cli.json("members", sid)["members"] == {"ann": "owner", "vic": "viewer"}
    edit = json.dumps({"op": "rename", "kind": "node", "old": "n0", "new": "a"})
    cli("apply", sid, "--user", "vic", "--expect-revision", 0, "--edit", edit, code=1)
    assert "'vic' is a viewer" in cli.err
    cli("log", sid, "--user", "eve", code=1)
    assert "'eve' is not a member" in cli.err
    cli("share", sid, "--user", "vic", "--grant", "eve", "--role", "editor", code=1)
    cli("apply", sid, "--user", "ann", "--expect-revision", 0, "--edit", "{oops", code=1)
    assert "not valid JSON" in cli.err
    cli("log", "nosuchid", code=1)
    assert "no session with id 'nosuchid'" in cli.err
    cli("apply", sid, "--user", "ann", "--expect-revision", 3, "--edit", edit, code=1)
    assert "from the future" in cli.err

    cli("comment", sid, "why Identity here?", "--user", "vic", "--node", "n1")
    comments = cli.json("comments", sid, "--user", "ann")["comments"]
    assert [(c["author"], c["node"], c["text"]) for c in comments] == [("vic", "n1", "why Identity here?")]

    cli("apply", sid, "--user", "ann", "--expect-revision", 0, "--edit", edit)
    cli("bundle", sid, "-o", tmp_path / "s.zip")
    new = cli("import", tmp_path / "s.zip", "--user", "bob").strip()
    assert new != sid
    assert [r["edit"] for r in cli.json("log", new, "--user", "bob")["revisions"]] == [None, json.loads(edit)]
    listed = {s["id"]: s for s in cli.json("list", "--user", "bob")["sessions"]}
    assert listed[new]["role"] == "owner" and listed[new]["head"] == 1
