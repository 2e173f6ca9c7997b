"""``molgen train``: build data, task and trainer from the config, fit, export a checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from molgen.errors import MolgenInputError

__all__ = ["run", "build", "export_config"]

log = logging.getLogger(__name__)


def export_config(cfg: DictConfig) -> dict:
    """The plain, resolved config stored in checkpoints: enough to rebuild the task module."""
    task = OmegaConf.to_container(cfg.task.module, resolve=True)
    return {"task": task, "task_name": str(cfg.task.name)}


def _output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def _resolve_ckpt(ckpt_path: str | None, outdir: Path) -> str | None:
    if ckpt_path in (None, ""):
        return None
    if ckpt_path == "last":
        last = outdir / "checkpoints" / "last.ckpt"
        if not last.exists():
            raise MolgenInputError(f"ckpt_path=last: no {last} to resume from (set hydra.run.dir to the old run)")
        return str(last)
    if not Path(ckpt_path).is_file():
        raise MolgenInputError(f"ckpt_path={ckpt_path}: file not found")
    return ckpt_path


def build(cfg: DictConfig):
    """Instantiate (datamodule, task, trainer) from a composed train config."""
    import lightning as L
    from hydra.utils import instantiate

    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(int(cfg.seed), workers=True)
    datamodule = instantiate(cfg.data)
    task = instantiate(cfg.task.module)
    task.export_config = export_config(cfg)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    return datamodule, task, trainer


def run(cfg: DictConfig) -> Path:
    from molgen.checkpoint import save_checkpoint

    outdir = _output_dir()
    ckpt = _resolve_ckpt(cfg.get("ckpt_path"), outdir)
    datamodule, task, trainer = build(cfg)
    trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt)
    path = outdir / str(cfg.export)
    if trainer.is_global_zero:
        save_checkpoint(task, path)
        log.info("wrote %s (%d steps)", path, trainer.global_step)
    return path
