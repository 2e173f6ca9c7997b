"""Score and rank sampled ligands in their receptor: ``molgen sample ... score=vina``.

After sampling, every valid, connected ligand (one fragment as written: with ``largest_fragment``
the largest fragment of each sample) is scored with :func:`molgen.evaluate.evaluate`, the
evaluation that reproduces the published protocol: Vina score and local minimisation (kcal/mol),
PoseBusters' checks, QED and SA (from sampling). Scores are written per batch to
``<outdir>/batches/scores_NNNN.csv`` as each batch is done, so a killed run resumes without
re-scoring what it scored (a batch's scores count while they are newer than its SDF). A tool
failing on one ligand leaves its message in the ``score_error`` column and costs no other ligand.

Then ``ligands.sdf`` is rewritten best first by ``rank_by`` (every score an SD property; ligands
without a score last), ``top_k`` keeps the best K in it, and ``samples.csv`` gets the scores and a
``rank`` column (1 = best; empty for unscored samples), in the same order.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molgen.errors import MolgenInputError
from molgen.io.tables import write_csv_atomic

__all__ = ["RANKINGS", "SCORE_COLUMNS", "ScoreSettings", "check_scoring_tools", "rank_ligands",
           "ranking_rows", "score_and_rank", "score_batches", "top_table"]

log = logging.getLogger(__name__)

RANKINGS: dict[str, bool] = {"vina_minimize": True, "vina_score": True, "qed": False, "sa": False}
"""What ``rank_by`` accepts, and whether lower is better (Vina energies) or higher (QED, SA)."""

SCORE_COLUMNS = ("vina_score", "vina_minimize", "pb_valid")
"""Columns the scoring adds to ``samples.csv`` and to each SD record (``qed``, ``sa`` are there)."""

SCORERS = ("vina",)
_TOOLS = ("vina", "meeko", "posebusters")


@dataclass(frozen=True)
class ScoreSettings:
    """How to score and rank (``molgen sample`` keys of the same names)."""

    receptor: Path
    rank_by: str = "vina_minimize"
    top_k: int | None = None
    n_jobs: int = 2
    posebusters: bool = True
    receptor_prep: str = "pdb2pqr"
    ligand_prep: str = "legacy"
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.rank_by not in RANKINGS:
            raise MolgenInputError(f"rank_by={self.rank_by}: choose one of {', '.join(RANKINGS)}")
        if self.top_k is not None and self.top_k < 1:
            raise MolgenInputError(f"top_k={self.top_k}: must be >= 1 (or null: keep all)")
        if self.n_jobs < 1:
            raise MolgenInputError(f"n_jobs={self.n_jobs}: must be >= 1")


def check_scoring_tools(score: str) -> None:
    """Refuse ``score=`` before sampling when it is unknown or its tools (the eval extra) are missing."""
    if score not in SCORERS:
        raise MolgenInputError(f"score={score}: choose one of {', '.join(SCORERS)} (or null: no scoring)")
    missing = [m for m in _TOOLS if importlib.util.find_spec(m) is None]
    if missing:
        raise MolgenInputError(f"score={score} needs the eval extra (pip install -e '.[eval]'): "
                               f"{', '.join(missing)} not installed")


def _scores_path(batch_dir: Path, b: int) -> Path:
    return batch_dir / f"scores_{b:04d}.csv"


def _is_scored(batch_dir: Path, b: int) -> bool:
    scores, sdf = _scores_path(batch_dir, b), batch_dir / f"batch_{b:04d}.sdf"
    return scores.is_file() and scores.stat().st_mtime_ns >= sdf.stat().st_mtime_ns


def _flag(mol, name: str) -> bool:
    return mol.HasProp(name) and mol.GetProp(name).strip().lower() == "true"


def score_batches(outdir: Path, n_batches: int, settings: ScoreSettings, *, resume: bool = True,
                  progress: bool = True) -> tuple[float, int]:
    """Score the valid, connected ligands of each batch not scored yet; return (seconds spent,
    ligands scored now)."""
    from molgen.evaluate import evaluate
    from molgen.sampling import read_written_sdf

    batch_dir = Path(outdir) / "batches"
    spent, n_new = 0.0, 0
    for b in range(n_batches):
        if resume and _is_scored(batch_dir, b):
            log.info("resume: batch %d already scored, skipping", b)
            continue
        t0 = time.perf_counter()
        mols = read_written_sdf(batch_dir / f"batch_{b:04d}.sdf", sanitize=False, remove_hs=False)
        picked = [m for m in mols if _flag(m, "valid") and len(Chem.GetMolFrags(m)) == 1]
        rows = [{"sample": int(m.GetProp("sample"))} for m in picked]
        if picked:
            table = evaluate(picked, settings.receptor, n_jobs=settings.n_jobs, vina=True, vina_dock=False,
                             posebusters=settings.posebusters, strain=False,
                             receptor_prep=settings.receptor_prep, ligand_prep=settings.ligand_prep,
                             cache_dir=settings.cache_dir, progress=progress)
            for row, (_, scored) in zip(rows, table.iterrows()):
                row.update({c: scored.get(c, np.nan) for c in SCORE_COLUMNS})
                row["score_error"] = scored.get("error") or ""
        frame = pd.DataFrame(rows, columns=["sample", *SCORE_COLUMNS, "score_error"])
        write_csv_atomic(frame, _scores_path(batch_dir, b))
        spent += time.perf_counter() - t0
        n_new += len(picked)
    return spent, n_new


def _sd_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value is None or value is pd.NA or isinstance(value, float) and np.isnan(value):
        return None
    return value


def rank_ligands(outdir: Path, n_batches: int, settings: ScoreSettings, *,
                 sdf_name: str = "ligands.sdf") -> pd.DataFrame:
    """Join the batch scores into ``samples.csv``, rank, rewrite ``sdf_name`` best first; return
    the ranked table (ranked samples first, then the others by sample number)."""
    from molgen.io.sdf import write_sdf
    from molgen.sampling import read_written_sdf

    outdir = Path(outdir)
    batch_dir = outdir / "batches"
    table = pd.read_csv(outdir / "samples.csv", keep_default_na=False, na_values=[""])
    table = table.drop(columns=[c for c in (*SCORE_COLUMNS, "score_error", "scored", "rank") if c in table])
    scores = pd.concat([pd.read_csv(_scores_path(batch_dir, b), keep_default_na=False, na_values=[""])
                        for b in range(n_batches)], ignore_index=True)
    table = table.merge(scores, on="sample", how="left")
    table["score_error"] = table["score_error"].astype(object).where(table["score_error"].notna(), "")
    table["scored"] = table["sample"].isin(scores["sample"])
    ascending = RANKINGS[settings.rank_by]
    key = pd.to_numeric(table[settings.rank_by], errors="coerce")
    rankable = key.notna() & table["scored"]
    order = table[rankable].assign(_key=key[rankable]).sort_values(["_key", "sample"],
                                                                   ascending=[ascending, True]).index
    table["rank"] = pd.Series(np.arange(1, len(order) + 1), index=order).reindex(table.index)
    table["rank"] = table["rank"].astype("Int64")
    table = pd.concat([table.loc[order], table[~rankable].sort_values("sample")]).reset_index(drop=True)

    by_sample = {}
    for b in range(n_batches):
        for m in read_written_sdf(batch_dir / f"batch_{b:04d}.sdf", sanitize=False, remove_hs=False):
            by_sample[int(m.GetProp("sample"))] = m
    keep = [s for s in table["sample"] if s in by_sample]
    if settings.top_k is not None:
        keep = [s for s in table.loc[table["rank"].notna(), "sample"]][: settings.top_k]
    rows = table.set_index("sample")
    mols, props = [], []
    for s in keep:
        mol = by_sample[s]
        prop = {name: mol.GetProp(name) for name in mol.GetPropNames()}
        prop.update({c: _sd_value(rows.at[s, c]) for c in ("rank", *SCORE_COLUMNS) if c in rows})
        if rows.at[s, "score_error"]:
            prop["score_error"] = rows.at[s, "score_error"]
        mols.append(mol)
        props.append({k: v for k, v in prop.items() if v is not None})
    write_sdf(mols, outdir / sdf_name, props=props)
    write_csv_atomic(table, outdir / "samples.csv")
    return table


def score_and_rank(outdir: Path, n_batches: int, settings: ScoreSettings, *, resume: bool = True,
                   progress: bool = True) -> tuple[pd.DataFrame, float, int]:
    """:func:`score_batches` then :func:`rank_ligands`: (ranked table, seconds spent scoring, ligands
    scored now: fewer than the table's when a resumed run kept earlier scores)."""
    seconds, n_new = score_batches(outdir, n_batches, settings, resume=resume, progress=progress)
    return rank_ligands(outdir, n_batches, settings), seconds, n_new


def ranking_rows(table: pd.DataFrame, scoring: ScoreSettings, seconds: float,
                 n_new: int) -> list[tuple[str, str]]:
    """Summary-table rows of a ranking: how many scored (and how fast), the best, PoseBusters, order."""
    scored = table["scored"].astype(bool)
    n_scored = int(scored.sum())
    now = f"{n_new} in {seconds:.1f} s ({seconds / n_new:.1f} s per ligand)" if n_new else "0"
    kept_before = f"; {n_scored - n_new} scored by the run resumed" if n_scored > n_new else ""
    best = table["vina_minimize"].min()
    pb = table.loc[scored, "pb_valid"].astype(str).str.lower().eq("true").sum()
    kept = f", best {scoring.top_k} kept" if scoring.top_k else ""
    return [
        ("scored (valid, one fragment)", f"{n_scored}: {now}{kept_before}"),
        ("best Vina minimize", "-" if pd.isna(best) else f"{best:.2f} kcal/mol"),
        ("PoseBusters-valid (scored)", f"{int(pb)} of {n_scored}"),
        ("ligands.sdf order", f"best {scoring.rank_by} first{kept}"),
    ]


def top_table(table: pd.DataFrame, n: int = 5) -> str:
    """The best ``n`` ranked ligands as a Markdown table (rank, sample, SMILES, scores)."""
    best = table[table["rank"].notna()].head(n)
    if best.empty:
        return "No ligand was ranked: none was valid and connected, or every scoring failed (samples.csv)."
    header = "| rank | sample | SMILES | Vina min | Vina score | QED | SA | PB-valid |"
    lines = [header, "|---:|---:|---|---:|---:|---:|---:|---|"]

    def num(value, fmt: str) -> str:
        return "-" if pd.isna(value) else format(float(value), fmt)

    for _, r in best.iterrows():
        pb = "-" if pd.isna(r.get("pb_valid")) else ("yes" if str(r["pb_valid"]).lower() == "true"
                                                     else "no")
        lines.append(f"| {r['rank']} | {r['sample']} | `{r['smiles']}` | {num(r['vina_minimize'], '.2f')} | "
                     f"{num(r['vina_score'], '.2f')} | {num(r.get('qed'), '.3f')} | {num(r.get('sa'), '.3f')} "
                     f"| {pb} |")
    return "\n".join(lines)
