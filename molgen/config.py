"""Hydra/OmegaConf glue: the config folder, resolvers, and a guarded ``instantiate``.

Nothing here runs on import: entry points call :func:`register_resolvers` before composing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, ListConfig, OmegaConf

from molgen.errors import MolgenInputError

__all__ = ["CONFIG_DIR", "REPO_ROOT", "register_resolvers", "compose", "compose_run", "check_targets", "safe_instantiate"]

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "conf"

#: ``_target_`` prefixes a checkpoint's stored config may name (nothing else is imported from one).
ALLOWED_TARGETS = ("molgen.", "torch.optim.")


def register_resolvers() -> None:
    """Register molgen's OmegaConf resolvers (idempotent)."""
    if not OmegaConf.has_resolver("molgen_root"):
        OmegaConf.register_new_resolver("molgen_root", lambda: str(REPO_ROOT))
    if not OmegaConf.has_resolver("len"):
        OmegaConf.register_new_resolver("len", lambda x: len(x))
    if not OmegaConf.has_resolver("pocket_feature_dim"):
        OmegaConf.register_new_resolver("pocket_feature_dim", _pocket_feature_dim)


def _pocket_feature_dim(mode: str) -> int:
    from molgen.data.featurize import pocket_feature_dim

    return pocket_feature_dim(mode)


def compose(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose a config from ``conf/`` outside a Hydra app (tests, notebooks, the Python API)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides or [], return_hydra_config=True)


def compose_run(config_name: str, overrides: list[str], run_dir: str | Path) -> DictConfig:
    """:func:`compose` as a Hydra app sees it when run in ``run_dir``: the run folder set and
    registered, so ``${hydra:runtime.output_dir}`` resolves (in-process training, tests)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    cfg = compose(config_name, list(overrides) + [f"hydra.run.dir={run_dir}"])
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def check_targets(cfg: Any, where: str) -> None:
    """Refuse any ``_target_`` outside :data:`ALLOWED_TARGETS` (configs stored in files we load)."""
    if isinstance(cfg, (DictConfig, ListConfig)):
        cfg = OmegaConf.to_container(cfg, resolve=False)
    if isinstance(cfg, Mapping):
        target = cfg.get("_target_")
        if target is not None and not str(target).startswith(ALLOWED_TARGETS):
            raise MolgenInputError(f"{where}: refusing to build '{target}': only {ALLOWED_TARGETS} are allowed")
        for value in cfg.values():
            check_targets(value, where)
    elif isinstance(cfg, list):
        for value in cfg:
            check_targets(value, where)


def safe_instantiate(cfg: Any, where: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` after :func:`check_targets`."""
    from hydra.utils import instantiate

    check_targets(cfg, where)
    return instantiate(cfg, **kwargs)
