"""Hydra multirun: launcher configs, one folder and one seed per job, `molgen collect`."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from hydra.utils import get_class
from omegaconf import OmegaConf
from rdkit import Chem

from molgen.commands import collect
from molgen.config import compose
from molgen.errors import MolgenInputError

LAUNCHERS = {
    "basic": "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
    "joblib": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
    "slurm": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
}


@pytest.mark.parametrize("command", ["sample", "train"])
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_launcher_config_composes_and_builds(launcher, command):
    cfg = compose(command, [f"hydra/launcher={launcher}"])
    node = cfg.hydra.launcher
    assert node._target_ == LAUNCHERS[launcher]
    params = {k: v for k, v in OmegaConf.to_container(node, resolve=False).items() if k != "_target_"}
    assert get_class(node._target_)(**params) is not None  # the plugin is installed and takes every field


def test_slurm_launcher_settings_are_overridable():
    cfg = compose("train", ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4",
                            "hydra.launcher.timeout_min=720", "hydra.launcher.mem_gb=64",
                            "hydra.launcher.cpus_per_task=6", "hydra.launcher.array_parallelism=8",
                            "hydra.launcher.tasks_per_node=4", "hydra.launcher.nodes=2"])
    node = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert {k: node[k] for k in ("partition", "gpus_per_node", "timeout_min", "mem_gb", "cpus_per_task",
                                 "array_parallelism", "tasks_per_node", "nodes")} == {
        "partition": "gpu", "gpus_per_node": 4, "timeout_min": 720, "mem_gb": 64, "cpus_per_task": 6,
        "array_parallelism": 8, "tasks_per_node": 4, "nodes": 2}
    assert node["submitit_folder"] == "${hydra.sweep.dir}/.submitit/%j"
    defaults = compose("train", ["hydra/launcher=slurm"]).hydra.launcher
    assert defaults.partition is None and defaults.timeout_min == 240 and defaults.gpus_per_node == 1


def _sample_sweep(molgen_cli, ckpt, outdir, launcher: str, pocket, *sweep: str) -> dict:
    """Run a sampling sweep; check each job's folder; return {(seed, cutoff): coordinates}."""
    extra = ["hydra.launcher.n_jobs=2"] if launcher == "joblib" else []
    molgen_cli("sample", "-m", f"ckpt={ckpt}", f"receptor={pocket[0]}", f"ref_ligand={pocket[1]}", *sweep,
               "n_samples=2", "steps=3", "n_atoms=5", "threads=1", f"outdir={outdir}", f"hydra/launcher={launcher}",
               *extra, cwd=outdir.parent)
    jobs = {}
    for job in sorted(p for p in outdir.iterdir() if p.is_dir()):
        overrides = dict(o.split("=", 1) for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))
        table = pd.read_csv(job / "samples.csv")
        assert len(table) == 2 and set(table["n_atoms"]) == {5}
        assert (job / "ligands.sdf").is_file() and (job / "summary.md").is_file() and (job / "sample.log").is_file()
        coords = [m.GetConformer().GetPositions().round(4).tolist()
                  for m in Chem.SDMolSupplier(str(job / "batches" / "batch_0000.sdf"), sanitize=False)]
        jobs[(overrides["seed"], overrides["cutoff"])] = coords
    return jobs


@pytest.fixture(scope="module")
def basic_sweep(molgen_cli, tiny_checkpoint, demo_pocket_files, tmp_path_factory):
    """A 2 x 2 sampling sweep (seed x pocket cutoff) with the basic launcher: (sweep dir, jobs)."""
    sweep = tmp_path_factory.mktemp("basic") / "sweep"
    jobs = _sample_sweep(molgen_cli, tiny_checkpoint, sweep, "basic", demo_pocket_files, "seed=0,1", "cutoff=6,7")
    return sweep, jobs


def test_basic_sweep_one_folder_and_seed_per_job_then_collect(basic_sweep, capsys):
    sweep, jobs = basic_sweep
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2", "3"]
    assert set(jobs) == {("0", "6"), ("0", "7"), ("1", "6"), ("1", "7")}
    assert jobs[("0", "6")] != jobs[("1", "6")]  # each job samples with its own seed

    from molgen.cli import main

    capsys.readouterr()
    main(["collect", str(sweep)])
    printed = capsys.readouterr().out
    assert "| job" in printed and "seed" in printed and "cutoff" in printed and "4 jobs" in printed
    table = pd.read_csv(sweep / "collected.csv")
    assert list(table["job"]) == [0, 1, 2, 3]
    assert set(zip(table["seed"], table["cutoff"])) == {(0, 6), (0, 7), (1, 6), (1, 7)}
    assert (table["status"] == "done").all() and (table["n"] == 2).all()
    assert {"valid", "qed", "sa", "unique_smiles", "ckpt", "receptor"} <= set(table.columns)
    assert (sweep / "collected.md").read_text().startswith("| job")
    samples = pd.read_csv(sweep / "collected_samples.csv")
    assert len(samples) == 8 and {"job", "seed", "cutoff", "smiles"} <= set(samples.columns)


def test_joblib_sweep_runs_jobs_in_worker_processes_like_basic(basic_sweep, molgen_cli, tiny_checkpoint,
                                                               demo_pocket_files, tmp_path):
    sweep = tmp_path / "sweep"
    jobs = _sample_sweep(molgen_cli, tiny_checkpoint, sweep, "joblib", demo_pocket_files, "seed=0,1", "cutoff=6")
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    _, basic = basic_sweep
    assert jobs == {key: basic[key] for key in jobs}  # same overrides and seed: same ligands
    table, _ = collect.collect(sweep)
    assert list(table["seed"]) == ["0", "1"] and (table["status"] == "done").all()


def _fake_job(root, name, overrides, samples=None, metrics=None, model=False):
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if samples is not None:
        pd.DataFrame(samples).to_csv(job / "samples.csv", index=False)
    if metrics is not None:
        (job / "logs").mkdir()
        pd.DataFrame(metrics).to_csv(job / "logs" / "metrics.csv", index=False)
    if model:
        (job / "model.pt").write_bytes(b"")
    return job


def test_collect_merges_sample_and_train_jobs(tmp_path):
    _fake_job(tmp_path, "0", ["seed=0", "n_atoms=5", "steps=3"],
              samples={"sample": [0, 1], "n_atoms": [5, 5], "valid": [True, False], "smiles": ["CC", ""],
                       "qed": [0.5, None], "error": ["", "no bonds"]})
    _fake_job(tmp_path, "1", ["seed=1", "model=tfn_small", "steps=3"],
              metrics={"step": [0, 0, 1], "epoch": [0, 0, 0], "train/loss": [3.0, None, 2.0],
                       "val/loss": [None, 2.5, None]}, model=True)
    _fake_job(tmp_path, "10", ["seed=2", "steps=3"])
    _fake_job(tmp_path, "2", ["seed=3", "steps=3"], metrics={"step": [0], "train/loss": [1.0]})
    jobs, samples = collect.collect(tmp_path)
    assert list(jobs["job"]) == ["0", "1", "2", "10"]  # numeric job order
    rows = jobs.set_index("job")
    assert rows.loc["0", "valid"] == 0.5 and rows.loc["0", "qed"] == 0.5 and rows.loc["0", "errors"] == 1
    assert rows.loc["0", "unique_smiles"] == 1 and rows.loc["0", "n_atoms (override)"] == "5"
    assert rows.loc["1", "train/loss"] == 2.0 and rows.loc["1", "val/loss"] == 2.5 and rows.loc["1", "step"] == 1
    assert rows.loc["1", "status"] == "done" and rows.loc["1", "checkpoint"].endswith("model.pt")
    assert rows.loc["1", "model"] == "tfn_small"
    assert rows.loc["2", "status"] == "no model.pt" and rows.loc["10", "status"] == "no results"
    assert len(samples) == 2 and set(samples["job"]) == {"0"}
    shown = collect.varying_columns(jobs)
    assert "seed" in shown and "status" in shown and "steps" not in shown and "steps" in jobs
    assert (tmp_path / "collected.csv").is_file() and (tmp_path / "collected.md").is_file()


def test_collect_reports_a_folder_without_jobs(tmp_path):
    with pytest.raises(MolgenInputError, match="no job folders"):
        collect.collect(tmp_path)
    with pytest.raises(SystemExit, match="not a folder"):
        collect.main([str(tmp_path / "missing")])


@pytest.mark.slow
def test_train_sweep_over_models_and_collect(molgen_cli, train_overrides, tmp_path):
    sweep = tmp_path / "sweep"
    molgen_cli("train", "-m", "model=egnn_small,tfn_small", *train_overrides, "trainer.max_steps=1",
               f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    jobs, _ = collect.collect(sweep)
    assert list(jobs["model"]) == ["egnn_small", "tfn_small"]
    assert (jobs["status"] == "done").all() and (jobs["step"] == 0).all()
    for num in (0, 1):
        assert (sweep / str(num) / "model.pt").is_file() and (sweep / str(num) / "train.log").is_file()
        assert (sweep / str(num) / "checkpoints" / "last.ckpt").is_file()
