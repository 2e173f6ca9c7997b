"""Trainer configs for one or many devices; DDP for real on CPU (gloo, two processes)."""

from __future__ import annotations

import subprocess

import pytest
import torch
from hydra.utils import instantiate

from molgen.config import compose_run

GPU_CONFIGS = {  # option -> what it must set
    "gpu": {"accelerator": "gpu", "devices": 1, "precision": "bf16-mixed"},
    "ddp": {"accelerator": "gpu", "devices": -1, "strategy": "ddp", "precision": "bf16-mixed"},
    "multinode": {"accelerator": "gpu", "devices": -1, "strategy": "ddp", "num_nodes": 2},
}


def _trainer_cfg(option: str, tmp_path, *overrides: str):
    return compose_run("train", [f"trainer={option}", *overrides], tmp_path)


@pytest.mark.parametrize("option", sorted(GPU_CONFIGS))
def test_gpu_trainer_configs_compose(option, tmp_path):
    cfg = _trainer_cfg(option, tmp_path)
    for key, value in GPU_CONFIGS[option].items():
        assert cfg.trainer[key] == value, key
    assert cfg.trainer.default_root_dir == str(tmp_path)


@pytest.mark.parametrize("option", sorted(GPU_CONFIGS))
def test_gpu_trainer_configs_instantiate_where_cuda_exists(option, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip(f"trainer={option} needs a CUDA device")
    overrides = ["trainer.num_nodes=1"] if option == "multinode" else []
    trainer = instantiate(_trainer_cfg(option, tmp_path, *overrides).trainer, logger=False)
    assert trainer.num_devices == (1 if option == "gpu" else torch.cuda.device_count())


def test_ddp_cpu_config_builds_a_two_process_gloo_trainer(tmp_path):
    from lightning.pytorch.strategies import DDPStrategy

    trainer = instantiate(_trainer_cfg("ddp_cpu", tmp_path).trainer, logger=False)
    assert isinstance(trainer.strategy, DDPStrategy)
    assert trainer.strategy.process_group_backend == "gloo"
    assert trainer.num_devices == 2 and trainer.accelerator.__class__.__name__ == "CPUAccelerator"


@pytest.mark.slow
def test_ddp_cpu_trains_with_two_processes(molgen_cli, train_overrides, small_model, tmp_path):
    """`molgen train trainer=ddp_cpu`: Lightning re-runs the command for rank 1; both ranks step."""
    run = tmp_path / "run"
    molgen_cli("train", "trainer=ddp_cpu", *train_overrides, *small_model, "trainer.max_steps=2",
               f"hydra.run.dir={run}", cwd=tmp_path)
    assert (run / "model.pt").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2
    rank1_log = (run / "train_ddp_process_1.log").read_text()
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in rank1_log
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in (run / "train.log").read_text()
    assert "wrote" not in rank1_log  # model.pt is exported by rank 0 only


@pytest.mark.slow
def test_ddp_started_by_lightning_is_refused_inside_a_sweep(molgen_popen, train_overrides, small_model, tmp_path):
    proc = molgen_popen("train", "-m", "trainer=ddp_cpu", *train_overrides, *small_model, "trainer.max_steps=1",
                        f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "cannot run inside a sweep" in err


def test_bf16_mixed_cpu_training_steps_with_finite_loss(molgen_cli, train_overrides, small_model, tmp_path):
    """`trainer=cpu_bf16`: two optimizer steps under CPU autocast, finite logged losses."""
    import pandas as pd

    run = tmp_path / "run"
    molgen_cli("train", "trainer=cpu_bf16", *train_overrides, *small_model, "trainer.max_steps=2",
               f"hydra.run.dir={run}", cwd=tmp_path)
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    losses = metrics["train/loss"].dropna()
    assert len(losses) == 2 and losses.map(lambda v: v == v and abs(v) < 1e6).all()
    state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)["state_dict"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}  # fp32 master weights


def _tiny_molecule_sdf(path):
    """Twelve small H/C/N/O molecules with hydrogens and 3D conformers, as an SD file."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    with Chem.SDWriter(str(path)) as writer:
        for k, smiles in enumerate(["C", "CC", "CO", "CN", "C=O", "CCO", "CCN", "CC=O", "OCO", "NCO", "CCC", "C#N"]):
            mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
            AllChem.EmbedMolecule(mol, randomSeed=k)
            writer.write(mol)
    return path


@pytest.mark.parametrize("task,data,extra", [("molecule", "qm9_mini", []),
                                             ("backbone", "backbone_mini", ["model.chiral=true"])],
                         ids=["molecule", "backbone"])
def test_tfn_trains_one_step_on_every_task(molgen_cli, task, data, extra, tmp_path):
    """`molgen train task=<task> model=tfn_small`: the e3nn network through Hydra on each task
    (the ligand-pocket task: test_hpc_sweeps)."""
    run = tmp_path / "run"
    if task == "molecule":  # a tiny SDF in QM9's elements: no ../shared/data needed
        extra = [*extra, f"data.source={_tiny_molecule_sdf(tmp_path / 'mols.sdf')}", "data.split_sizes=[8,2]",
                 "data.max_molecules=null", "data.batch_size=4"]
    molgen_cli("train", f"task={task}", "model=tfn_small", *extra, f"data={data}", "trainer.max_steps=1",
               "trainer.max_epochs=-1", "trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
               "task.module.val_samples=0", "threads=1", f"paths.cache_dir={tmp_path / 'cache'}",
               f"hydra.run.dir={run}", cwd=tmp_path)
    state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    assert state["config"]["task"]["net"]["_target_"] == "molgen.nn.tfn.TFN"
    assert torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 1
