"""Untrusted checkpoints: loaded with ``weights_only=True``, code in them never runs, and their config
may only build classes defined in ``molgen.*`` / ``torch.optim.*``."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from molgen.checkpoint import FORMAT, VERSION, load_checkpoint, load_task
from molgen.errors import MolgenInputError


class _Payload:
    """Unpickling this would run ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Innocent:
    def __init__(self) -> None:
        self.x = 1


def _valid(tiny_checkpoint: Path) -> dict:
    return torch.load(tiny_checkpoint, weights_only=True)


def _refused(path: Path, match: str) -> None:
    with pytest.raises(MolgenInputError, match=match) as info:
        load_task(path)
    assert str(path) in str(info.value)


def test_text_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_text("these are not weights\n")
    _refused(tmp_path / "model.pt", r"not a readable molgen checkpoint \(\w+Error: .*\); expected "
                                    r"model\.pt or checkpoints/last\.ckpt written by molgen train")


def test_missing_and_truncated_checkpoint(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _refused(tmp_path / "absent.pt", r"absent\.pt: checkpoint file not found")
    raw = tiny_checkpoint.read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    _refused(tmp_path / "cut.pt", r"cut\.pt: not a readable molgen checkpoint \(\w+")


@pytest.mark.parametrize("container", ["pickle", "torch.save"])
def test_pickled_code_is_refused_and_never_runs(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "pwned"
    payload = {"format": FORMAT, "version": VERSION, "config": {}, "state_dict": {},
               "extras": _Payload(f"touch {marker}")}
    path = tmp_path / "evil.pt"
    if container == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    _refused(path, r"evil\.pt: not a readable molgen checkpoint \(UnpicklingError: Weights only load failed")
    assert not marker.exists(), "code inside the checkpoint ran"


def test_pickled_class_instance_is_refused(tmp_path: Path) -> None:
    torch.save({"format": FORMAT, "version": VERSION, "config": {"x": _Innocent()}}, tmp_path / "obj.pt")
    _refused(tmp_path / "obj.pt", r"not a readable molgen checkpoint \(UnpicklingError")


def test_incompatible_format_version(tmp_path: Path, tiny_checkpoint: Path) -> None:
    torch.save({**_valid(tiny_checkpoint), "version": 99}, tmp_path / "future.pt")
    _refused(tmp_path / "future.pt", r"checkpoint format version 99 is not supported by this molgen "
                                     rf"\(reads version {VERSION}\)")


@pytest.mark.parametrize("payload", [
    {"weights": torch.zeros(2)}, [1, 2, 3],
    {"state_dict": {}, "molgen": {"config": None}},
], ids=["plain dict", "list", "lightning without config"])
def test_other_torch_files_are_not_checkpoints(tmp_path: Path, payload) -> None:
    torch.save(payload, tmp_path / "other.pt")
    _refused(tmp_path / "other.pt", r"(not a molgen checkpoint|Lightning checkpoint without a molgen config)")


@pytest.mark.parametrize("target", [
    "os.system",
    "molgen.checkpoint.os.system",          # passes a bare prefix check, resolves to os.system
    "molgen.io.sdf.write_sdf",              # a molgen function that writes files: not a class
    "molgen.sampling.pd.DataFrame",         # a class, but defined outside molgen
    "torch.optim.torch.load",
    "molgen.no_such_module.Thing",
])
def test_config_target_outside_allowlist_is_refused(tmp_path: Path, tiny_checkpoint: Path,
                                                     target: str) -> None:
    ckpt = _valid(tiny_checkpoint)
    marker = tmp_path / "written.sdf"
    ckpt["config"]["task"]["net"] = {"_target_": target, "_args_": [f"touch {marker}"], "mols": [],
                                     "path": str(marker)}
    torch.save(ckpt, tmp_path / "evil.pt")
    _refused(tmp_path / "evil.pt", rf"refusing to build '{target}': checkpoint configs may only name classes "
                                   r"defined in molgen\., torch\.optim\.")
    assert not marker.exists()


def test_weights_not_matching_the_config(tmp_path: Path, tiny_checkpoint: Path) -> None:
    ckpt = _valid(tiny_checkpoint)
    ckpt["state_dict"] = {"net.bogus.weight": torch.zeros(3)}
    torch.save(ckpt, tmp_path / "mismatch.pt")
    _refused(tmp_path / "mismatch.pt", r"weights do not match the stored model config \(missing \[")


def test_valid_checkpoint_loads_in_eval_mode(tiny_checkpoint: Path) -> None:
    task = load_task(tiny_checkpoint)
    assert not task.training and load_checkpoint(tiny_checkpoint)["version"] == VERSION
