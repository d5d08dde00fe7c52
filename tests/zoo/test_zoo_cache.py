import subprocess
import sys

from zoo.cache import cached_file, zoo_home

_WORKER = """
import os, sys, time
from zoo.cache import cached_file
def produce(tmp):
    with open(sys.argv[1], "a") as log:
        log.write("built\\n")
    time.sleep(1.0)
    tmp.write_bytes(b"payload")
print(cached_file("race/entry.bin", produce).read_bytes().decode())
"""


def test_two_processes_build_an_entry_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path / "home"))
    log = tmp_path / "log.txt"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(log)], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert outs == ["payload", "payload"]
    assert log.read_text().count("built") == 1
    assert sorted(p.name for p in (tmp_path / "home" / "zoo" / "race").iterdir()) == ["entry.bin", "entry.bin.lock"]


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path))

    def boom(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")

    try:
        cached_file("x/y.bin", boom)
    except RuntimeError:
        pass
    assert not (zoo_home() / "x" / "y.bin").exists()
    assert [p.name for p in (zoo_home() / "x").iterdir()] == ["y.bin.lock"]
    assert cached_file("x/y.bin", lambda tmp: tmp.write_bytes(b"ok")).read_bytes() == b"ok"
