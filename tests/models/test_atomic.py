"""A build killed or failing half-way never leaves a cache entry that loads as complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from balancedbio.models import MANIFEST, problems, resolve_model
from balancedbio.models import tiny as tiny_mod
from balancedbio.models.store import check_safetensors


def _models(cache: str) -> Path:
    return Path(cache) / "models"


def _fingerprint(path: Path) -> str:
    return json.loads((path / MANIFEST).read_text())["fingerprint"]


def _assert_complete(path: Path) -> None:
    assert not problems(path, "tiny-random", _fingerprint(path), deep=True)


def test_failure_half_way_leaves_nothing(
    model_cache: str, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = tiny_mod.build_into

    def broken(tmp: Path, *args: object, **kwargs: object) -> None:
        real_build(tmp, *args, **kwargs)  # everything written...
        (tmp / "model.safetensors").write_bytes(b"half")  # ...then a torn write and a crash
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(tiny_mod, "build_into", broken)
    with pytest.raises(RuntimeError, match="simulated crash"):
        resolve_model("tiny-random-21", model_cache)
    assert not (_models(model_cache) / "tiny-random-21").exists()
    assert not list(_models(model_cache).glob(".tmp-tiny-random-21-*"))
    monkeypatch.setattr(tiny_mod, "build_into", real_build)
    _assert_complete(resolve_model("tiny-random-21", model_cache))


KILLED_BUILD = """
import sys, time
from pathlib import Path
import balancedbio.models.tiny as tiny

def stuck(tmp, *args, **kwargs):
    (tmp / "config.json").write_text("{}")
    (tmp / "model.safetensors").write_bytes(b"partial")
    Path(sys.argv[2]).write_text(str(tmp))
    time.sleep(300)

tiny.build_into = stuck
from balancedbio.models import resolve_model
resolve_model("tiny-random-22", sys.argv[1])
"""


def test_sigkill_mid_build_then_rebuild(model_cache: str, tiny_dir: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, model_cache, str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "build subprocess died early"
            assert time.monotonic() < deadline, "build subprocess never started building"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    final = _models(model_cache) / "tiny-random-22"
    assert not final.exists()
    assert Path(ready.read_text()).exists()  # the killed build's temp dir is left behind...
    path = resolve_model("tiny-random-22", model_cache)  # ...and ignored, then cleaned up
    assert path == final
    _assert_complete(path)
    assert not list(_models(model_cache).glob(".tmp-tiny-random-22-*"))


def test_missing_marker_is_rebuilt(model_cache: str, tiny_dir: Path) -> None:
    path = resolve_model("tiny-random-23", model_cache)
    (path / MANIFEST).unlink()
    assert problems(path, "tiny-random", "x")
    rebuilt = resolve_model("tiny-random-23", model_cache)
    assert rebuilt == path
    _assert_complete(rebuilt)


def test_truncated_weights_are_rebuilt(model_cache: str, tiny_dir: Path) -> None:
    path = resolve_model("tiny-random-24", model_cache)
    weights = path / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as fh:
        fh.truncate(size // 2)
    assert check_safetensors(weights) is not None
    assert any("model.safetensors" in p for p in problems(path, "tiny-random", _fingerprint(path)))
    rebuilt = resolve_model("tiny-random-24", model_cache)
    assert (rebuilt / "model.safetensors").stat().st_size == size
    _assert_complete(rebuilt)


def test_deleted_file_is_rebuilt(model_cache: str, tiny_dir: Path) -> None:
    path = resolve_model("tiny-random-25", model_cache)
    (path / "tokenizer.json").unlink()
    _assert_complete(resolve_model("tiny-random-25", model_cache))


CONCURRENT_BUILD = """
import contextlib, os, struct, sys, time
from pathlib import Path
import balancedbio.models.store as store
import balancedbio.models.tiny as tiny

def fake(tmp, *args, **kwargs):
    Path(sys.argv[2], f"built-{os.getpid()}").touch()
    time.sleep(1.5)  # long enough for the other process to arrive
    (tmp / "config.json").write_text("{}")
    (tmp / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    return {}

tiny.build_into = fake
if sys.argv[3] == "nolock":
    store.build_lock = lambda final: contextlib.nullcontext(False)
while not Path(sys.argv[2], "go").exists():
    time.sleep(0.01)
from balancedbio.models import resolve_model
print(resolve_model(sys.argv[4], sys.argv[1]))
"""


@pytest.mark.parametrize("mode", ["lock", "nolock"])
def test_concurrent_builds(model_cache: str, tiny_dir: Path, tmp_path: Path, mode: str) -> None:
    name = f"tiny-random-{26 if mode == 'lock' else 27}"
    args = [sys.executable, "-c", CONCURRENT_BUILD, model_cache, str(tmp_path), mode, name]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.5)
    (tmp_path / "go").touch()
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    final = _models(model_cache) / name
    assert outputs == [str(final)] * 2
    _assert_complete(final)
    builders = list(tmp_path.glob("built-*"))
    assert len(builders) == (1 if mode == "lock" else 2)
    leftovers = list(_models(model_cache).glob(f".*-{name}-*"))
    assert not [p for p in leftovers if p.is_dir()]
