"""molgen checkpoints: weights plus the plain config that rebuilds the task, loaded safely.

A checkpoint is a ``torch.save`` of plain data only::

    {"format": "molgen-checkpoint", "version": 1, "molgen_version": "...",
     "config": {"task": {...Hydra node with _target_...}}, "state_dict": {...}, "extras": {...}}

It loads with ``torch.load(weights_only=True)`` (no pickled code runs), and the config may only
name ``molgen.*`` and ``torch.optim.*`` targets, each of which must be a class defined there (so
``molgen.checkpoint.os.system`` or a molgen function that writes files is refused, too).
Lightning's training checkpoints (``*.ckpt``) carry the same ``molgen`` entry and load through
the same function.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from molgen.config import ALLOWED_TARGETS, safe_instantiate
from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path

__all__ = ["FORMAT", "VERSION", "check_checkpoint_targets", "export_config", "save_checkpoint", "load_checkpoint",
           "load_task"]

FORMAT = "molgen-checkpoint"
VERSION = 1


def export_config(cfg: Any) -> dict:
    """The plain, resolved config a checkpoint stores (``task.export_config``), from a composed
    ``train`` config: enough to rebuild the task module."""
    from omegaconf import OmegaConf

    task = OmegaConf.to_container(cfg.task.module, resolve=True)
    return {"task": task, "task_name": str(cfg.task.name)}


def save_checkpoint(task: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``task``'s weights, config and extras to ``path`` atomically."""
    from molgen import __version__

    if task.export_config is None:
        raise ValueError("task.export_config is not set: the train entry point sets it")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "molgen_version": __version__,
        "config": task.export_config,
        "state_dict": {k: v.detach().cpu() for k, v in task.state_dict().items()},
        "extras": task.checkpoint_extras(),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a molgen checkpoint (or a Lightning ``.ckpt`` written by molgen) without running code."""
    path = Path(path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: checkpoint file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        raise MolgenInputError(f"{path}: not a readable molgen checkpoint ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}); expected model.pt or "
                               "checkpoints/last.ckpt written by molgen train") from None
    if not isinstance(raw, dict):
        raise MolgenInputError(f"{path}: not a molgen checkpoint (top level is {type(raw).__name__})")
    if raw.get("format") == FORMAT:
        if raw.get("version") != VERSION:
            raise MolgenInputError(f"{path}: checkpoint format version {raw.get('version')} is not supported "
                                   f"by this molgen (reads version {VERSION})")
        return raw
    if "molgen" in raw and "state_dict" in raw:  # a Lightning checkpoint from `molgen train`
        meta = raw["molgen"]
        if not meta.get("config"):
            raise MolgenInputError(f"{path}: Lightning checkpoint without a molgen config")
        extras = {k: v for k, v in meta.items() if k != "config"}
        return {"format": FORMAT, "version": VERSION, "config": meta["config"],
                "state_dict": raw["state_dict"], "extras": extras}
    raise MolgenInputError(f"{path}: not a molgen checkpoint (no '{FORMAT}' marker or 'molgen' entry)")


def _locate_class(path: str) -> type | None:
    """The class named by a dotted path (longest importable module, then attributes), else None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except Exception:  # noqa: BLE001 -- not a module (or a broken one): try a shorter prefix
            continue
        try:
            for name in parts[i:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj if isinstance(obj, type) else None
    return None


def check_checkpoint_targets(cfg: Any, where: str) -> None:
    """Every ``_target_`` in a stored config must be a class defined in :data:`ALLOWED_TARGETS`.

    The prefix alone is not enough: ``molgen.checkpoint.os.system`` starts with ``molgen.``.
    """
    if isinstance(cfg, Mapping):
        target = cfg.get("_target_")
        if target is not None:
            target = str(target)
            obj = _locate_class(target) if target.startswith(ALLOWED_TARGETS) else None
            if obj is None or not str(getattr(obj, "__module__", "")).startswith(ALLOWED_TARGETS):
                raise MolgenInputError(f"{where}: refusing to build '{target}': checkpoint configs may only "
                                       f"name classes defined in {', '.join(ALLOWED_TARGETS)}")
        for value in cfg.values():
            check_checkpoint_targets(value, where)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            check_checkpoint_targets(value, where)


def load_task(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """Rebuild the task module stored in ``path`` and load its weights (eval mode)."""
    ckpt = load_checkpoint(path)
    config = ckpt["config"]
    if "task" not in config:
        raise MolgenInputError(f"{path}: checkpoint config has no 'task' entry")
    check_checkpoint_targets(config["task"], where=str(path))
    task = safe_instantiate(config["task"], where=str(path))
    missing, unexpected = task.load_state_dict(ckpt["state_dict"], strict=False)
    if missing or unexpected:
        raise MolgenInputError(f"{path}: weights do not match the stored model config "
                               f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    task.load_checkpoint_extras(ckpt.get("extras", {}))
    task.export_config = config
    return task.to(map_location).eval()
