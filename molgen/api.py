"""The Python API for notebooks and scripts; the CLI runs the same functions.

Example::

    import molgen
    model = molgen.load_model()                       # the bundled ligand-pocket checkpoint
    mols = molgen.sample_ligands(model, receptor="rec.pdb", ref_ligand="lig.sdf", n_samples=10)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import pandas as pd
from rdkit import Chem

from molgen.config import REPO_ROOT
from molgen.errors import MolgenInputError

__all__ = ["bundled_checkpoint", "load_model", "sample_ligands", "sample_molecules"]

PathLike = str | os.PathLike[str]


def bundled_checkpoint(task: str = "ligand_pocket") -> Path:
    """Path of the checkpoint shipped in ``data/checkpoints/`` for ``task``."""
    path = REPO_ROOT / "data" / "checkpoints" / f"{task}.pt"
    if not path.is_file():
        raise MolgenInputError(f"{path}: no bundled checkpoint for task={task}")
    return path


def load_model(ckpt: PathLike | None = None, *, task: str = "ligand_pocket", device: str = "cpu"):
    """Load a molgen checkpoint (the bundled one of ``task`` when ``ckpt`` is None), in eval mode."""
    from molgen.checkpoint import load_task

    return load_task(ckpt if ckpt is not None else bundled_checkpoint(task), map_location=device)


def _outdir(outdir: PathLike | None) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    if outdir is not None:
        return Path(outdir), None
    tmp = tempfile.TemporaryDirectory(prefix="molgen-")
    return Path(tmp.name), tmp


def sample_ligands(
    model=None,
    *,
    receptor: PathLike | None = None,
    ref_ligand: PathLike | None = None,
    residues: str | Sequence[str] | None = None,
    box_center: Sequence[float] | None = None,
    box_size: float | None = None,
    cutoff: float = 10.0,
    n_samples: int = 10,
    n_atoms: int | str | Sequence[int] | None = None,
    steps: int | None = None,
    sampler=None,
    seed: int = 0,
    batch_size: int = 50,
    outdir: PathLike | None = None,
    return_table: bool = False,
    largest_fragment: bool = False,
    score: str | None = None,
    rank_by: str = "vina_minimize",
    top_k: int | None = None,
    n_jobs: int = 2,
    clash_distance: float | None = None,
    join_fragments: bool | None = None,
    relax: bool | None = None,
    guidance_scale: float | Sequence[float] | None = None,
) -> list[Chem.Mol] | tuple[list[Chem.Mol], pd.DataFrame]:
    """Generate ligands in a pocket; returns the valid molecules (receptor frame, Angstrom).

    The pocket is ``receptor`` plus one of ``ref_ligand`` / ``residues`` / ``box_center`` (with
    ``box_size``). With no receptor, the bundled demo pocket is used. Files are written to
    ``outdir`` (a temporary folder when None). ``return_table=True`` also returns the per-sample
    table (valid, connected, qed, sa, smiles, error). ``largest_fragment=True`` keeps the largest
    fragment of each molecule (as the CrossDocked benchmark evaluates them). ``clash_distance``:
    pocket repulsion as ``molgen sample clash_distance=`` (``None``: the model's default, 2.8 A
    for a bond-aware model; ``0``: off); ``join_fragments``: fragment attraction as ``molgen sample
    join_fragments=`` (``None``: the model's default, on for a bond-aware model; ``False``: off);
    ``relax``: the force-field clean-up of each pose as ``molgen sample relax=`` (``None``: on;
    ``False``: the poses as generated). ``guidance_scale``: classifier-free guidance of the pocket as
    ``molgen sample guidance_scale=``, a number or ``[positions, chemistry]`` (``None``: the model's
    default, ``[1, 0.5]`` for a bond-aware model trained with pocket dropout; ``1``: conditional).

    ``score="vina"`` scores every valid, connected ligand in the receptor (Vina score and minimize,
    PoseBusters; :mod:`molgen.scoring`, needs the eval extra) on ``n_jobs`` processes: the molecules
    come best first by ``rank_by`` (``top_k``: only the best K), the table is the ranked one of
    ``molgen sample ... score=vina`` (columns ``rank``, ``vina_score``, ``vina_minimize``,
    ``pb_valid``, ``score_error``).
    """
    from molgen.io.pocket import read_pocket
    from molgen.sampling import SamplingJob, read_written_sdf, run_ligand_sampling
    from molgen.sampling_common import guidance, parse_n_atoms, pose_relaxation, sampling_guides
    from molgen.scoring import ScoreSettings, check_scoring_tools, score_and_rank

    model = model if model is not None else load_model()
    guides = sampling_guides(model, clash_distance, join_fragments)
    relaxation = pose_relaxation(relax)
    if receptor is None:
        demo = REPO_ROOT / "data" / "demo" / "SIR3_HUMAN_117_398_0"
        receptor, ref_ligand = demo / "5d7n_D_rec.pdb", demo / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"
    pocket = read_pocket(receptor, ref_ligand=ref_ligand, cutoff=cutoff, residues=residues,
                         box_center=box_center, box_size=box_size if box_center is not None else None)
    scoring = None
    if score is not None:
        check_scoring_tools(score)
        scoring = ScoreSettings(receptor=Path(pocket.path), rank_by=rank_by, top_k=top_k, n_jobs=n_jobs)
    out, tmp = _outdir(outdir)
    try:
        job = SamplingJob(outdir=out, n_samples=n_samples, n_atoms=parse_n_atoms(n_atoms), steps=steps,
                          batch_size=batch_size, seed=seed, largest_fragment=largest_fragment,
                          guidance_scale=guidance(model, guidance_scale))
        table = run_ligand_sampling(model, pocket, job, sampler=sampler, guides=guides, relax=relaxation)
        if scoring is not None:
            table, _, _ = score_and_rank(out, -(-n_samples // batch_size), scoring, resume=False)
        mols = read_written_sdf(out / "ligands.sdf")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return (mols, table) if return_table else mols


def sample_molecules(
    model=None,
    *,
    n_samples: int = 10,
    n_atoms: int | str | Sequence[int] | None = None,
    steps: int | None = None,
    sampler=None,
    seed: int = 0,
    batch_size: int = 100,
    outdir: PathLike | None = None,
    bonds: str = "predicted",
) -> pd.DataFrame:
    """Generate unconditional molecules; returns the per-sample table: stability and validity from
    the predicted bonds (bond-aware models, ``bonds="predicted"``) with EDM's distance-based check
    beside them, or EDM's alone (atoms-only models, or ``bonds="distances"``)."""
    from molgen.sampling import SamplingJob, run_molecule_sampling
    from molgen.sampling_common import parse_n_atoms

    model = model if model is not None else load_model(task="molecule")
    out, tmp = _outdir(outdir)
    try:
        job = SamplingJob(outdir=out, n_samples=n_samples, n_atoms=parse_n_atoms(n_atoms), steps=steps,
                          batch_size=batch_size, seed=seed)
        return run_molecule_sampling(model, job, sampler=sampler, bonds=bonds)
    finally:
        if tmp is not None:
            tmp.cleanup()
