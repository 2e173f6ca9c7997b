"""Every config in conf/ composes and instantiates (so none can go stale)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hydra.utils import instantiate

from molgen.config import CONFIG_DIR, compose, compose_run

# group -> how to build what an option of it describes
TRAIN_GROUPS = ("model", "diffusion", "sampler", "trainer", "logger", "callbacks", "task", "data", "paths")


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def _train_cfg(overrides, tmp_path):
    return compose_run("train", overrides, tmp_path)


def _build(group: str, cfg):
    node = cfg[group]
    if group in ("logger", "callbacks"):
        return [instantiate(c) for c in (node or {}).values()]
    if group == "task":
        return instantiate(node.module)
    if group == "trainer":
        return instantiate(node, logger=False)
    if group == "paths":
        return OmegaConf.to_container(node, resolve=True)
    return instantiate(node)


CASES = [(g, o) for g in TRAIN_GROUPS for o in _options(g)]


@pytest.mark.parametrize("group,option", CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_train_group_option_instantiates(group, option, tmp_path):
    if group == "trainer" and option in ("gpu", "ddp", "multinode"):
        pytest.importorskip("torch").cuda.is_available() or pytest.skip("trainer=gpu needs a CUDA device")
    cfg = _train_cfg([f"{group}={option}"], tmp_path)
    assert _build(group, cfg) is not None


@pytest.mark.parametrize("option", _options("experiment"), ids=str)
def test_experiment_instantiates(option, tmp_path):
    cfg = _train_cfg([f"experiment={option}"], tmp_path)
    for group in ("model", "data", "task"):
        assert _build(group, cfg) is not None


@pytest.mark.parametrize("task", _options("task"), ids=str)
def test_sample_config_composes_for_every_task(task):
    cfg = compose("sample", [f"task={task}", "sampler=ddim"])
    assert cfg.task.name in ("ligand_pocket", "molecule", "backbone")  # a task `molgen sample` runs
    assert Path(OmegaConf.to_container(cfg.paths, resolve=True)["root"]).is_dir()
    instantiate(cfg.sampler)


def test_every_yaml_is_covered():
    covered = {f"{g}/{o}" for g, o in CASES} | {f"experiment/{o}" for o in _options("experiment")}
    covered |= {"train", "sample", "eval"} | {f"benchmark/{o}" for o in _options("benchmark")}
    covered |= {"data_conformers", "data_leakage"}  # run by tests/data/test_conformers.py, test_leakage.py
    files = {str(p.relative_to(CONFIG_DIR).with_suffix("")) for p in CONFIG_DIR.rglob("*.yaml")}
    uncovered = {f for f in files if f not in covered and not f.startswith("hydra/")}
    assert not uncovered, f"configs no test instantiates: {sorted(uncovered)}"


@pytest.mark.parametrize("name", _options("benchmark"), ids=str)
@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
def test_benchmark_config_resolves(name, quick):
    from molgen.benchmarking import benchmark_config

    cfg = benchmark_config(name, quick=quick)
    assert "quick" not in cfg and len(cfg) > 0
