"""``molgen train``: build data, task and trainer from the config, fit, export a checkpoint."""

from __future__ import annotations

import csv
import logging
import random
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from omegaconf import DictConfig

from molgen.errors import MolgenInputError

__all__ = ["run", "build", "quiet_lightning", "rng_state_callback"]

log = logging.getLogger(__name__)


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


@contextmanager
def _relaunchable_argv() -> Iterator[None]:
    """Make ``sys.argv`` re-run this command while Lightning starts the other DDP ranks.

    Lightning starts rank 1.. by re-running ``sys.argv`` (``python -m <main module>`` or
    ``python <script>``, plus the Hydra run dir); ``molgen.cli`` has replaced it with
    ``["molgen-train", *overrides]``, which names neither the script nor the command.
    """
    import __main__

    saved = list(sys.argv)
    if saved and saved[0] == "molgen-train":
        sys.argv = [getattr(__main__, "__file__", None) or saved[0], "train", *saved[1:]]
    try:
        yield
    finally:
        sys.argv = saved


def _rng_states() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_states(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rng_state_callback():
    """A Lightning callback that keeps the global random states (python, numpy, torch, CUDA) in
    checkpoints and restores them on resume, so a resumed run draws the same noise, times and
    batch order as an uninterrupted one (Lightning itself does not save them).

    Lightning is imported here, not at module level: imported before Hydra sets up logging, it
    keeps its messages out of the run's log file.
    """
    from lightning.pytorch import Callback

    class RNGStateCallback(Callback):
        @property
        def state_key(self) -> str:
            return "molgen.RNGStateCallback"

        def state_dict(self) -> dict:
            return _rng_states()

        def load_state_dict(self, state_dict: dict) -> None:
            _set_rng_states(state_dict)

    return RNGStateCallback()


def _keep_csv_history(loggers: list, ckpt: str) -> None:
    """Keep a resumed run's earlier rows of ``metrics.csv``.

    Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` in its folder when it starts; on
    resume the rows logged before the checkpoint's step are written back first, so the file goes
    on from there (rows after the checkpoint were work lost with the killed job: they are dropped).
    """
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.utilities import rank_zero_only

    csv_loggers = [lg for lg in loggers if isinstance(lg, CSVLogger)]
    if not csv_loggers or rank_zero_only.rank != 0:
        return
    step = int(torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)["global_step"])
    for logger in csv_loggers:
        path = Path(logger.log_dir) / "metrics.csv"
        if not path.is_file():
            continue
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in reader
                    if r.get("step") not in ("", None) and int(float(r["step"])) < step]
        writer = logger.experiment  # creating the writer deletes metrics.csv
        writer.metrics_keys, writer.metrics = sorted(keys), rows
        writer.save()
        log.info("resume: kept %d rows of %s (steps < %d)", len(rows), path, step)


def _check_ddp_launch(trainer) -> None:
    """Refuse DDP that Lightning would start itself inside a Hydra sweep (``-m``).

    Lightning starts ranks 1.. by re-running the command line with the *run* folder, which in a
    sweep is not the job's folder (and the command holds ``-m``: every rank would run the sweep).
    Under SLURM or torchrun the ranks are started by the scheduler and this does not apply.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    strategy = trainer.strategy
    env = getattr(strategy, "cluster_environment", None)
    if (HydraConfig.get().mode == RunMode.MULTIRUN and trainer.world_size > 1 and env is not None
            and not env.creates_processes_externally
            and type(getattr(strategy, "launcher", None)).__name__ == "_SubprocessScriptLauncher"):
        raise MolgenInputError(
            f"trainer: DDP over {trainer.world_size} processes started by Lightning cannot run inside a sweep "
            "(-m); run each training on its own, or sweep with hydra/launcher=slurm (SLURM starts the ranks: "
            "hydra.launcher.tasks_per_node = trainer.devices)")


def _init_weights(task, path: str) -> None:
    """Start from the weights of ``path`` (fine-tuning); the architectures must match, except that a
    network built with ``self_condition=True`` may start from one trained without it: its
    self-conditioning inputs (columns appended to the input embeddings) start at zero, so the
    fine-tuned model starts out computing exactly what the checkpoint computed."""
    from molgen.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    state = ckpt["state_dict"]
    net_cfg = ((ckpt.get("config") or {}).get("task") or {}).get("net") or {}
    if getattr(task.net, "self_condition", False) and net_cfg.get("self_condition") is False:
        state = _zero_new_input_columns(state, task.state_dict(), path)
    if task.ema is not None and not any(k.startswith("ema.") for k in state):
        state = {**state, **{f"ema.{k[len('net.'):]}": v for k, v in state.items() if k.startswith("net.")}}
    if task.ema is None:
        state = {k: v for k, v in state.items() if not k.startswith("ema.")}
    try:
        task.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise MolgenInputError(f"init_from={path}: its weights do not fit this model/task config "
                               f"({str(exc).splitlines()[0]}); use the model config it was trained with") from None
    log.info("initialised weights from %s", path)


def _zero_new_input_columns(state: dict, target: dict, path: str) -> dict:
    """``state`` with each 2-D weight that ``target`` holds wider (same rows, more input columns)
    padded with zero columns after its own: the inputs a network gained start switched off."""
    out = dict(state)
    for key, value in state.items():
        want = target.get(key)
        if (want is not None and value.dim() == 2 and want.dim() == 2 and want.shape[0] == value.shape[0]
                and want.shape[1] > value.shape[1]):
            out[key] = torch.cat([value, value.new_zeros(value.shape[0], want.shape[1] - value.shape[1])], dim=1)
            log.info("init_from=%s: %s gains %d input columns (self-conditioning), starting at zero", path, key,
                     want.shape[1] - value.shape[1])
    return out


def build(cfg: DictConfig):
    """Instantiate (datamodule, task, trainer) from a composed train config."""
    import lightning as L
    from hydra.utils import instantiate

    from molgen.checkpoint import export_config

    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(int(cfg.seed), workers=True)
    datamodule = instantiate(cfg.data)
    task = instantiate(cfg.task.module)
    task.export_config = export_config(cfg)
    if cfg.get("init_from"):
        _init_weights(task, str(cfg.init_from))
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()] + [rng_state_callback()]
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    return datamodule, task, trainer


_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning",
                      "lightning_fabric")


class _NoTips(logging.Filter):
    """Drops Lightning's advertising ("💡 Tip: ... try installing litlogger / litmodels")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


def quiet_lightning() -> None:
    """Every Lightning log line once, through the handlers Hydra put on the root logger (console and
    ``train.log``), without its advertising tips, and without the one deprecation warning the
    latest Lightning (2.6.6) triggers in torch 2.13 (``isinstance(treespec, LeafSpec)``, from
    Lightning's own ``_pytree`` module; no Lightning release avoids it yet, and only that message is
    ignored). The ``lightning`` package gives its loggers console handlers of their own on import,
    so each line was printed twice: by them and by Hydra's."""
    import lightning.pytorch  # noqa: F401  (its import adds the handlers taken away here)

    if logging.getLogger().handlers:  # under Hydra (or any configured logging): let root print
        for name in _LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in logger.filters):
            logger.addFilter(_NoTips())
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning, module=r"lightning\.pytorch\.utilities\._pytree")


def run(cfg: DictConfig) -> Path:
    from molgen.checkpoint import save_checkpoint

    quiet_lightning()
    outdir = _output_dir()
    ckpt = _resolve_ckpt(cfg.get("ckpt_path"), outdir)
    datamodule, task, trainer = build(cfg)
    _check_ddp_launch(trainer)
    if ckpt is not None:
        _keep_csv_history(trainer.loggers, ckpt)
    with _relaunchable_argv():
        trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt)
    path = outdir / str(cfg.export)
    if trainer.is_global_zero:
        save_checkpoint(task, path)
        log.info("wrote %s (%d steps)", path, trainer.global_step)
    return path
