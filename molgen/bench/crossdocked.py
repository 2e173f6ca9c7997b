"""CrossDocked2020 test set: generate ligands for each test pocket, evaluate them, tabulate.

``run(cfg)`` (settings: ``conf/benchmark/crossdocked.yaml``) goes through the test complexes in
``ligand_filenames.txt`` order. Per pocket it cuts the pocket (``pocket: receptor``: the receptor
around the reference ligand, as ``molgen sample receptor= ref_ligand=``; ``pocket10``:
CrossDocked's own pocket file), samples ``n_samples`` ligands with :func:`molgen.sampling.run_ligand_sampling`
and evaluates them against the receptor with :func:`molgen.evaluate.evaluate`. With
``largest_fragment: true`` a molecule of several fragments is judged by its largest fragment
(DiffSBDD's practice) and the share of one-fragment samples is reported as connectivity.

Output folder::

    settings.yaml                  what produced the results (other settings into it are refused)
    pockets/NNN_<target>/          ligands.sdf, samples.csv, batches/ (sampling); molecules.csv
                                   (sampling + evaluation, one row per sample: the pocket is done)
    molecules.csv                  all pockets' rows
    summary.csv, summary.md        the table

A rerun skips finished pockets and finished sampling batches, so a killed run resumes. Docking may
come later: a run with ``eval.vina_dock`` on docks the finished pockets a run without it left
undocked (sample everywhere first, dock in later runs or array jobs).

``complexes: training`` runs the same on ``training.n`` complexes of the pocket model's own training
split (:func:`training_complexes`), the table without reference or published rows: beside the test
table it shows the generalisation gap.

Table columns (TargetDiff's definitions, Guan et al. ICLR 2023, and its evaluation notebook):
Vina score / min / dock, QED and SA are mean / median over all valid molecules pooled; High
Affinity is per pocket the share of valid molecules with ``vina_dock`` <= the reference ligand's
published ``vina_dock``, then mean / median over pockets; Diversity is per pocket 1 - mean
pairwise Tanimoto similarity (Morgan r=2) of the valid molecules, then mean / median over pockets.
Vina dock and High Affinity use the docked molecules only: with ``eval.vina_dock_per_pocket: 5``
(the default, TargetDiff's protocol) a seeded random 5 valid ligands per pocket (column ``docked``).
Valid, Connected, Valid & connected and PB-valid (valid and passing every PoseBusters check) are
shares of all generated samples; with ``bonds: repaired`` (the default, as ``molgen sample``)
"Valid, bonds as predicted" is the share valid before the valence repair
(:mod:`molgen.chem.valence_repair`), the model's own; s / pocket is the sampling wall time per pocket on this machine.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from molgen.errors import MolgenInputError
from molgen.io.tables import write_csv_atomic

__all__ = ["PUBLISHED", "CrossDockedResult", "Complex", "benchmark_table", "crossdocked_complexes", "run",
           "table_markdown", "training_complexes"]

log = logging.getLogger(__name__)

# Published rows (CrossDocked2020 test set, 100 pockets x 100 samples, Vina via TargetDiff's
# protocol). None = not verified here, printed as "-". Fractions, not percent.
# * Pocket2Mol and TargetDiff: TargetDiff paper (Guan et al., ICLR 2023), Table 3; values as printed
#   by the authors' notebook that reproduces the table (github.com/guanjq/targetdiff,
#   notebooks/summary.ipynb). Its Diversity column is not in that output: not verified.
# * DecompDiff (Guan et al., ICML 2023), Table 1, row "Ours": medians as listed in the authors' README
#   (github.com/bytedance/DecompDiff); mean Vina Dock -8.39 from the paper's abstract. The other
#   means could not be verified here.
# * DiffSBDD (Schneuing et al., Nature Computational Science 2024): its CrossDocked table reports
#   QuickVina2 docking scores with its own sampling protocol, not TargetDiff's Vina columns; no value
#   could be verified here, so the row is all "-".
PUBLISHED: list[dict] = [
    {"model": "Pocket2Mol (TargetDiff Table 3)",
     "vina_score_mean": -5.14, "vina_score_median": -4.70, "vina_min_mean": -6.42, "vina_min_median": -5.82,
     "vina_dock_mean": -7.15, "vina_dock_median": -6.79,
     "high_affinity_mean": 0.484, "high_affinity_median": 0.510,
     "qed_mean": 0.573, "qed_median": 0.577, "sa_mean": 0.756, "sa_median": 0.760},
    {"model": "TargetDiff (TargetDiff Table 3)",
     "vina_score_mean": -5.47, "vina_score_median": -6.30, "vina_min_mean": -6.64, "vina_min_median": -6.83,
     "vina_dock_mean": -7.80, "vina_dock_median": -7.91,
     "high_affinity_mean": 0.581, "high_affinity_median": 0.591,
     "qed_mean": 0.480, "qed_median": 0.481, "sa_mean": 0.585, "sa_median": 0.580},
    {"model": "DecompDiff (DecompDiff Table 1)",
     "vina_score_median": -6.04, "vina_min_median": -7.09, "vina_dock_mean": -8.39, "vina_dock_median": -8.43,
     "high_affinity_median": 0.710, "qed_median": 0.43, "sa_median": 0.60},
    {"model": "DiffSBDD (Schneuing et al. 2024)"},
]

# (key, header): each has _mean and _median in the table
PAIRED = [("vina_score", "Vina Score"), ("vina_min", "Vina Min"), ("vina_dock", "Vina Dock"),
          ("high_affinity", "High Affinity"), ("qed", "QED"), ("sa", "SA"), ("diversity", "Diversity")]
SINGLE = [("validity", "Valid"), ("connectivity", "Connected"), ("valid_connected", "Valid & connected"),
          ("validity_predicted", "Valid, bonds as predicted"), ("pb_valid", "PB-valid"),
          ("seconds_per_pocket", "s / pocket")]
_PERCENT = {"high_affinity", "validity", "connectivity", "valid_connected", "validity_predicted", "pb_valid"}
# our evaluation column -> the reference CSV's column and the table key
_PROPERTIES = [("vina_score", "vina_score"), ("vina_minimize", "vina_min"), ("vina_dock", "vina_dock"),
               ("qed", "qed"), ("sa", "sa")]
# settings that do not change a pocket's results (may differ between a run and its resumption);
# eval.vina_dock: a run with docking docks the pockets a run without it left undocked
_FREE_SETTINGS = ("n_pockets", "shard", "threads", "device", "outdir", "reference", "eval.n_jobs",
                  "eval.vina_dock")


@dataclass(frozen=True)
class Complex:
    """One test complex: ``key`` is its ligand path relative to the root (the reference CSV's key)."""

    index: int
    key: str
    target: str
    ligand: Path
    receptor: Path
    pocket10: Path


@dataclass
class CrossDockedResult:
    molecules: pd.DataFrame
    table: pd.DataFrame
    markdown: str
    outdir: Path


def crossdocked_complexes(root: str | os.PathLike, n: int | None = None) -> list[Complex]:
    """The first ``n`` (all with None) complexes of a CrossDocked-layout folder, index order."""
    from molgen.data.datasets.complexes import crossdocked_sources
    from molgen.manifest import CROSSDOCKED_INDEX

    root = Path(root)
    receptors = crossdocked_sources(root, CROSSDOCKED_INDEX, pocket_source="receptor")
    pockets10 = crossdocked_sources(root, CROSSDOCKED_INDEX, pocket_source="pocket10")
    return [Complex(k, str(r.ligand.relative_to(root)), r.group, r.ligand, r.pocket, p.pocket)
            for k, (r, p) in enumerate(zip(receptors, pockets10))][:n]


def training_complexes(manifest: str | os.PathLike, root: str | os.PathLike, workdir: str | os.PathLike,
                       n: int = 20, val_fraction: float = 0.05, seed: int = 0) -> list[Complex]:
    """``n`` complexes the pocket models trained on, as a benchmark set beside the test pockets (the
    generalisation gap): the kept poses of the leakage ``manifest`` (paths relative to ``root``), the
    training split of :class:`~molgen.data.datamodule.PoseComplexDataModule` with the same
    ``val_fraction`` and ``seed`` (split by complex), ``n`` complexes drawn with
    ``numpy.random.default_rng(seed)``, the first kept pose of each. Each is written to
    ``workdir/<complex>/`` as ``receptor.pdb`` (the ATOM records: protein only, the ligand, waters
    and other hetero groups left out) and ``ligand.sdf`` (the pose), once; ``target`` is the
    complex, ``key`` ``<complex>:<pose>``.

    Raises:
        MolgenInputError: the manifest is missing or holds fewer than ``n`` training complexes.
    """
    from rdkit import Chem

    from molgen.data.datamodule import split_by_group
    from molgen.data.leakage import combined_complexes, load_pose, pdb_lines
    from molgen.io.atomic import write_atomic

    poses = combined_complexes(manifest, root)
    groups = [p.complex for p in poses]
    train, _, _ = split_by_group(groups, val_fraction, 0.0, seed)
    first: dict[str, object] = {}
    for i in train:
        first.setdefault(groups[i], poses[i])
    names = sorted(first)
    if len(names) < n:
        raise MolgenInputError(f"{manifest}: {len(names)} training complexes, fewer than n={n}")
    chosen = [names[i] for i in sorted(np.random.default_rng(seed).choice(len(names), n, replace=False))]
    out = []
    for k, name in enumerate(chosen):
        pose = first[name]
        cdir = Path(workdir) / name.replace("/", "__")
        receptor, ligand = cdir / "receptor.pdb", cdir / "ligand.sdf"
        if not (receptor.is_file() and ligand.is_file()):
            atoms = pdb_lines(pose.protein, ("ATOM",))
            if not atoms:
                raise MolgenInputError(f"{pose.protein}: no ATOM records")
            write_atomic(receptor, "\n".join(atoms + ["END", ""]))
            mol = load_pose(pose)
            mol.SetProp("_Name", f"{name}:{pose.pose}")
            write_atomic(ligand, Chem.MolToMolBlock(mol) + "$$$$\n")
        out.append(Complex(k, f"{name}:{pose.pose}", name.replace("/", "__"), ligand, receptor, receptor))
    return out


def _complex_set(cfg: DictConfig) -> str:
    """``cfg.complexes``, checked: ``crossdocked`` (the test set) or ``training``."""
    which = str(cfg.get("complexes", "crossdocked"))
    if which not in ("crossdocked", "training"):
        raise MolgenInputError(f"complexes={which}: allowed values are crossdocked, training")
    return which


def _shard(cfg: DictConfig) -> tuple[int, int]:
    """``shard: "i/n"``: this process runs every n-th complex from the i-th (0-based); null: all."""
    value = cfg.get("shard")
    if value is None:
        return 0, 1
    try:
        i, n = (int(v) for v in str(value).split("/"))
    except ValueError:
        raise MolgenInputError(f"shard={value}: write it as i/n, e.g. 0/2 and 1/2") from None
    if not 0 <= i < n:
        raise MolgenInputError(f"shard={value}: need 0 <= i < n")
    return i, n


def _complexes(cfg: DictConfig, which: str, outdir: Path) -> list[Complex]:
    """The benchmark's complexes of set ``which`` (:func:`_complex_set`)."""
    from molgen.manifest import CROSSDOCKED_INDEX

    n = None if cfg.n_pockets is None else int(cfg.n_pockets)
    if which == "training":
        if cfg.pocket != "receptor":
            raise MolgenInputError(f"pocket={cfg.pocket}: training complexes have no pocket10 files; "
                                   "use pocket=receptor")
        t = cfg.training
        return training_complexes(t.manifest, t.root, outdir / "complexes", n=int(n or t.n),
                                  val_fraction=float(t.val_fraction), seed=int(t.seed))
    root = Path(cfg.root)
    if not (root / CROSSDOCKED_INDEX).is_file():
        raise MolgenInputError(f"{root}: no CrossDocked test set here (no {CROSSDOCKED_INDEX}); set root=")
    return crossdocked_complexes(root, n)


def _pocket(cx: Complex, cfg: DictConfig):
    from molgen.io.pocket import read_pocket
    from molgen.io.records import PocketRecord
    from molgen.io.structure import read_protein

    if cfg.pocket == "receptor":
        return read_pocket(cx.receptor, ref_ligand=cx.ligand, cutoff=float(cfg.cutoff))
    if cfg.pocket == "pocket10":
        protein = read_protein(cx.pocket10)
        fields = {f: getattr(protein, f) for f in protein.__dataclass_fields__}
        return PocketRecord(**fields, definition=f"CrossDocked pocket file {cx.pocket10.name}")
    raise MolgenInputError(f"pocket={cfg.pocket}: allowed values are receptor, pocket10")


def _merge(samples: pd.DataFrame, evaluated: pd.DataFrame, sdf: Path) -> pd.DataFrame:
    """One row per sample: sampling columns, then the evaluation of its molecule (if any)."""
    from molgen.sampling import read_written_sdf

    out = samples.drop(columns=[c for c in ("smiles", "qed", "sa") if c in samples])
    out = out.rename(columns={"seconds": "sample_seconds", "error": "sample_error"})
    if evaluated.empty:
        return out
    ids = [int(m.GetProp("sample")) for m in read_written_sdf(sdf, sanitize=False, remove_hs=False)]
    ev = evaluated.drop(columns=["source", "name", "connected", "n_fragments"], errors="ignore")
    ev = ev.rename(columns={"valid": "eval_valid", "error": "eval_error"})
    ev.insert(0, "sample", [ids[i] for i in ev.pop("index")])
    out = out.merge(ev, on="sample", how="left")
    out["valid"] = out["valid"].astype(bool) & out["eval_valid"].fillna(False).astype(bool)
    return out


def _dock_some(table: pd.DataFrame, sdf: Path, cx: Complex, cfg: DictConfig) -> pd.DataFrame:
    """``vina_dock`` for a seeded random ``eval.vina_dock_per_pocket`` of the pocket's valid samples
    (TargetDiff's protocol docks 5 per pocket to keep docking to hours; null: all of them), NaN for
    the others; a failed dock leaves NaN and its message in ``eval_error``."""
    from molgen.evaluate import evaluate
    from molgen.sampling import read_written_sdf

    e = cfg.eval
    table = table.assign(vina_dock=np.nan, docked=False)
    valid = table.loc[table["valid"].astype(bool), "sample"].to_numpy()
    per = e.get("vina_dock_per_pocket")
    n = len(valid) if per is None else min(int(per), len(valid))
    if n <= 0:
        return table
    chosen = set(np.random.default_rng(int(cfg.seed) * 1000 + cx.index).choice(valid, n, replace=False).tolist())
    mols = {int(m.GetProp("sample")): m for m in read_written_sdf(sdf, sanitize=False, remove_hs=False)
            if int(m.GetProp("sample")) in chosen}
    ids = sorted(mols)
    docked = evaluate([mols[i] for i in ids], cx.receptor, n_jobs=int(e.n_jobs), vina=True, vina_dock=True,
                      exhaustiveness=int(e.exhaustiveness), posebusters=False, strain=False,
                      receptor_prep=str(e.receptor_prep), ligand_prep=str(e.ligand_prep), progress=False)
    for sample, (_, row) in zip(ids, docked.iterrows()):
        at = table["sample"] == sample
        table.loc[at, "docked"] = True
        table.loc[at, "vina_dock"] = row.get("vina_dock", np.nan)
        if isinstance(row.get("error"), str) and row["error"]:  # joined as evaluate joins its tools' errors
            errors = (table.loc[at, "eval_error"].iloc[0], f"dock: {row['error']}")
            table.loc[at, "eval_error"] = "; ".join(e for e in errors if isinstance(e, str) and e)
    return table


def _docking(cfg: DictConfig) -> bool:
    return bool(cfg.eval.vina) and bool(cfg.eval.vina_dock)


def _finished_pocket(cx: Complex, cfg: DictConfig, pdir: Path) -> tuple[pd.DataFrame, str]:
    """A pocket an earlier run finished, read back; docked now if this run docks and that one did not."""
    table = pd.read_csv(pdir / "molecules.csv")
    if not _docking(cfg) or "docked" in table:
        return table, "done before, kept"
    t0 = time.perf_counter()
    table = _dock_some(table, pdir / "ligands.sdf", cx, cfg)
    write_csv_atomic(table, pdir / "molecules.csv")
    return table, f"done before, {int(table['docked'].sum())} docked now, {time.perf_counter() - t0:.0f} s"


def _run_pocket(task, sampler, cx: Complex, cfg: DictConfig, pdir: Path, guides=None,
                relax=None, guidance=1.0) -> pd.DataFrame:
    from molgen.evaluate import evaluate
    from molgen.sampling import SamplingJob, run_ligand_sampling
    from molgen.sampling_common import parse_n_atoms

    job = SamplingJob(outdir=pdir, n_samples=int(cfg.n_samples), n_atoms=parse_n_atoms(cfg.n_atoms),
                      steps=cfg.steps, batch_size=int(cfg.batch_size), seed=int(cfg.seed) * 1000 + cx.index,
                      largest_fragment=bool(cfg.largest_fragment), guidance_scale=guidance,
                      resume=True)
    samples = run_ligand_sampling(task, _pocket(cx, cfg), job, sampler=sampler, bonds=str(cfg.bonds),
                                  guides=guides, relax=relax)
    t0 = time.perf_counter()
    e = cfg.eval
    evaluated = pd.DataFrame()
    if samples["valid"].astype(bool).any():
        evaluated = evaluate(pdir / "ligands.sdf", cx.receptor, n_jobs=int(e.n_jobs), vina=bool(e.vina),
                             vina_dock=False,  # docking: _dock_some, below
                             posebusters=bool(e.posebusters), strain=bool(e.strain),
                             posebusters_timeout=None if e.posebusters_timeout is None else float(e.posebusters_timeout),
                             receptor_prep=str(e.receptor_prep), ligand_prep=str(e.ligand_prep),
                             progress=False)
    table = _merge(samples, evaluated, pdir / "ligands.sdf")
    if _docking(cfg):
        table = _dock_some(table, pdir / "ligands.sdf", cx, cfg)
    table.insert(0, "pocket", cx.key)
    table.insert(1, "target", cx.target)
    table["eval_seconds"] = (time.perf_counter() - t0) / len(table)
    write_csv_atomic(table, pdir / "molecules.csv")
    return table


def _check_settings(cfg: DictConfig, outdir: Path) -> None:
    """Refuse to mix results of different settings in one ``outdir``; record the settings."""
    mine = OmegaConf.to_container(cfg, resolve=True)
    path = outdir / "settings.yaml"
    if path.is_file():
        theirs = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        for key in _FREE_SETTINGS:
            for d in (mine, theirs):
                *parents, last = key.split(".")
                for p in parents:
                    d = d.get(p, {})
                d.pop(last, None)
        if mine != theirs:
            raise MolgenInputError(f"{path}: {outdir} holds results of other settings ({theirs}); "
                                   "give a new outdir= or delete that folder")
        return
    outdir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, path)


def _valid_and_connected(molecules: pd.DataFrame) -> pd.Series:
    """Per sample: valid and in one piece (a sample without a ``connected`` verdict counts as not)."""
    return molecules["valid"].astype(bool) & molecules["connected"].fillna(False).astype(bool)


def run(cfg: DictConfig) -> CrossDockedResult:
    """Sample, evaluate and tabulate (module docstring); returns the tables and the Markdown."""
    import torch

    from molgen.api import load_model
    from molgen.sampling_common import (describe_guides, describe_relaxation, guidance, pose_relaxation,
                                        resolve_device, sampling_guides)
    from molgen.diffusion.samplers import SAMPLERS

    outdir = Path(cfg.outdir)
    if cfg.sampler is not None and cfg.sampler not in SAMPLERS:
        raise MolgenInputError(f"sampler={cfg.sampler}: allowed values are {sorted(SAMPLERS)} or null")
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    _check_settings(cfg, outdir)
    which = _complex_set(cfg)
    training = which == "training"
    first, step = _shard(cfg)
    complexes = _complexes(cfg, which, outdir)[first::step]
    task = load_model(cfg.ckpt, device=str(resolve_device(str(cfg.device))))
    sampler = SAMPLERS[cfg.sampler]() if cfg.sampler else None
    guides = sampling_guides(task, cfg.get("clash_distance"), cfg.get("join_fragments"))
    relax = pose_relaxation(cfg.get("relax"))
    guidance_scale = guidance(task, cfg.get("guidance_scale"))
    frames = []
    for done, cx in enumerate(complexes, start=1):
        pdir = outdir / "pockets" / f"{cx.index:03d}_{cx.target}"
        if (pdir / "molecules.csv").is_file():
            table, what = _finished_pocket(cx, cfg, pdir)
            frames.append(table)
            print(f"[{done}/{len(complexes)}] {cx.key}: {what}", flush=True)
            continue
        t0 = time.perf_counter()
        frames.append(_run_pocket(task, sampler, cx, cfg, pdir, guides, relax, guidance_scale))
        f = frames[-1]
        print(f"[{done}/{len(complexes)}] {cx.key}: {int(f['valid'].sum())}/{len(f)} valid, "
              f"{int(_valid_and_connected(f).sum())} of them connected, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    molecules = pd.concat(frames, ignore_index=True)
    write_csv_atomic(molecules, outdir / "molecules.csv")
    reference = (pd.read_csv(cfg.reference) if not training and cfg.reference and Path(cfg.reference).is_file()
                 else None)
    table = benchmark_table(molecules, reference, published=[] if training else PUBLISHED)
    write_csv_atomic(table, outdir / "summary.csv")
    steps = cfg.steps or task.sample_steps
    per = cfg.eval.get("vina_dock_per_pocket")
    dock = (f"exhaustiveness {cfg.eval.exhaustiveness}, {'all valid' if per is None else f'{per} valid per pocket'}"
            if _docking(cfg) else "off")
    title = "Training complexes (pocket model's training split)" if training else "CrossDocked2020 test set"
    head = (f"{title}: {len(complexes)} pockets x {cfg.n_samples} samples, "
            f"{type(sampler or task.sampler).__name__} {steps} steps, "
            f"guidance {guidance_scale}, "
            f"{', '.join(f'{k} {v}' for k, v in (*describe_guides(guides), describe_relaxation(relax)))}, "
            f"checkpoint "
            f"{Path(cfg.ckpt).name if cfg.ckpt else 'bundled'}, pocket {cfg.pocket}, largest fragment "
            f"{bool(cfg.largest_fragment)}, Vina dock {dock}, {torch.get_num_threads()} thread(s), "
            f"{time.strftime('%Y-%m-%d')}")
    markdown = f"{head}\n\n{table_markdown(table)}"
    (outdir / "summary.md").write_text(markdown)
    return CrossDockedResult(molecules, table, markdown, outdir)


def _mean_median(values, key: str) -> dict[str, float]:
    v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna()
    return {f"{key}_mean": float(v.mean()) if len(v) else np.nan,
            f"{key}_median": float(v.median()) if len(v) else np.nan}


def _generated_row(molecules: pd.DataFrame, reference: pd.DataFrame | None) -> dict:
    from molgen.metrics.molecule import internal_diversity

    gen = molecules
    valid = gen[gen["valid"].fillna(False).astype(bool)]
    row: dict = {"model": f"molgen (this run, {gen['pocket'].nunique()} pockets)"}
    for col, key in _PROPERTIES:
        row.update(_mean_median(valid[col] if col in valid else [], key))
    pockets = valid.groupby("pocket")
    div = [internal_diversity(list(g["smiles"].dropna())) for _, g in pockets] if "smiles" in valid else []
    row.update(_mean_median(div, "diversity"))
    shares = []
    if reference is not None and "vina_dock" in valid:
        ref_dock = reference.set_index("ligand_filename")["vina_dock"]
        for pocket, g in pockets:
            docked = pd.to_numeric(g["vina_dock"], errors="coerce").dropna()
            if len(docked) and pocket in ref_dock.index:
                shares.append(float((docked <= ref_dock[pocket]).mean()))
    row.update(_mean_median(shares, "high_affinity"))
    row["validity"] = float(gen["valid"].astype(bool).mean())
    row["connectivity"] = float(gen["connected"].fillna(False).astype(bool).mean())
    row["valid_connected"] = float(_valid_and_connected(gen).mean())
    if "valid_predicted" in gen:  # bonds=repaired: the model's own bonds, before the valence repair
        row["validity_predicted"] = float(gen["valid_predicted"].fillna(False).astype(bool).mean())
    if "pb_valid" in gen:
        passed = gen["pb_valid"].fillna(False).astype(bool)
        row["pb_valid"] = float((gen["valid"].astype(bool) & passed).mean())
    if "sample_seconds" in gen:
        row["seconds_per_pocket"] = float(gen.groupby("pocket")["sample_seconds"].sum().mean())
    return row


def benchmark_table(molecules: pd.DataFrame, reference: pd.DataFrame | None = None,
                    published: list[dict] = PUBLISHED) -> pd.DataFrame:
    """The table: this run, the reference ligands of the same pockets, the published rows.

    ``molecules``: one row per generated sample with ``pocket`` (the reference CSV's
    ``ligand_filename``), ``valid``, ``connected``, ``smiles``, evaluation columns (``vina_score``,
    ``vina_minimize``, ``vina_dock``, ``qed``, ``sa``, ``pb_valid``) and ``sample_seconds``, as
    :func:`run` writes. ``reference``: ``crossdocked_test_reference.csv`` (per-ligand published
    scores); it gives the Reference row and the thresholds of High Affinity.
    """
    rows = [_generated_row(molecules, reference)]
    if reference is not None:
        ref = reference[reference["ligand_filename"].isin(set(molecules["pocket"]))]
        row = {"model": f"Reference ligands ({len(ref)}, published scores)"}
        for _, key in _PROPERTIES:
            row.update(_mean_median(ref[key], key))
        rows.append(row)
    rows.extend(published)
    columns = ["model"] + [f"{k}_{s}" for k, _ in PAIRED for s in ("mean", "median")] + [k for k, _ in SINGLE]
    return pd.DataFrame(rows).reindex(columns=columns)


def _cell(value, key: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if key in _PERCENT:
        return f"{100 * value:.1f}%"
    if key == "seconds_per_pocket":
        return f"{value:.1f}"
    return f"{value:.2f}" if key.startswith("vina") else f"{value:.3f}"


def table_markdown(table: pd.DataFrame) -> str:
    """Markdown of :func:`benchmark_table`: ``mean / median`` cells, ``-`` where unknown."""
    head = ["model"] + [f"{h} (avg / med)" for _, h in PAIRED] + [h for _, h in SINGLE]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in table.to_dict("records"):
        cells = [str(row["model"])]
        cells += [f"{_cell(row.get(f'{k}_mean'), k)} / {_cell(row.get(f'{k}_median'), k)}" for k, _ in PAIRED]
        cells += [_cell(row.get(k), k) for k, _ in SINGLE]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ("\nVina in kcal/mol (lower is better); High Affinity: share of a pocket's valid molecules "
             "docking at least as well as its reference ligand; Diversity, High Affinity: per pocket, "
             "then over pockets; Valid, Connected, PB-valid: shares of all generated samples (Valid, bonds as "
             "predicted: before the valence repair); s / pocket: "
             "sampling time. Published rows: molgen/bench/crossdocked.py (sources; '-' = not verified).")
    return "\n".join(lines) + "\n" + notes + "\n"
