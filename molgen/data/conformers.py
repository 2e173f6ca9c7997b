"""3D molecules from a SMILES file, in gzipped SD shards: parallel, resumable, deterministic.

Layout of ``outdir`` (``prefix`` defaults to the SMILES file's stem)::

    <prefix>_000.sdf.gz ...     molecules i*shard_size .. (i+1)*shard_size - 1 of the file that embedded
    progress/<prefix>_000.csv   the failures of that shard (its "done" record, written first)
    progress/<prefix>.settings.json   the settings; resuming with other settings is refused
    failures.csv                all failures: index, smiles, reason

Molecule ``i`` (0-based row of the SMILES file) is embedded with seed ``seed + i``
(:func:`molgen.chem.conformers.embed_conformer`), so the shards do not depend on ``n_jobs`` or on
how often a run was interrupted; gzip is written with a zero timestamp, so equal runs give equal
bytes. Each record is titled ``<prefix>_<i>`` (or the name in the SMILES file's second column)
and carries the SD properties ``smiles`` and ``index_property`` (default ``index``) = ``i``.

Resuming: a shard whose SD file and progress record both exist is skipped. Shards are built one
at a time (the molecules of a shard in parallel over ``n_jobs`` processes) and written atomically,
so a killed run loses at most the shard in progress and never leaves a partial file.

SMILES files: ``.smi`` / ``.txt`` (whitespace-separated ``SMILES [name]`` per line; blank and
``#`` lines skipped, a first line reading ``smiles`` is a header) or ``.csv`` (a column named
``smiles``, any case, and ``name`` if present); each optionally gzipped.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from molgen.errors import MolgenInputError
from molgen.io.atomic import atomic_path, write_atomic
from molgen.io.tables import write_csv_atomic

__all__ = [
    "FAILURE_COLUMNS",
    "ConformerRun",
    "build_conformers",
    "embed_record",
    "read_smiles_file",
    "shard_paths",
]

log = logging.getLogger(__name__)

FAILURE_COLUMNS = ("index", "smiles", "reason")


@dataclass
class ConformerRun:
    """What :func:`build_conformers` did.

    Attributes:
        n_molecules: molecules in the SMILES file (after ``limit``).
        n_written: molecules in the shards (all shards, resumed ones included).
        failures: ``index, smiles, reason`` of every failure (all shards).
        shards: every shard path; ``built`` / ``skipped``: how many this run made / found done.
        seconds: wall time of this run.
    """

    n_molecules: int
    n_written: int = 0
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))
    shards: list[Path] = field(default_factory=list)
    built: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """A short table of the run (counts and failure reasons)."""
        rows = [
            ("molecules", self.n_molecules),
            ("written", self.n_written),
            ("failed", len(self.failures)),
            ("shards built / already done", f"{self.built} / {self.skipped}"),
            ("seconds (this run)", f"{self.seconds:.1f}"),
        ]
        kinds = Counter(str(r).split(" (")[0] for r in self.failures["reason"])
        rows += [(f"  failed: {kind}", n) for kind, n in kinds.most_common()]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _smiles_stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return name.rsplit(".", 1)[0] if "." in name else name


def read_smiles_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``smiles`` and ``name`` (``""`` where none) per molecule, in file order (module docstring).

    Raises:
        MolgenInputError: missing or empty file, CSV without a ``smiles`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: SMILES file not found")
    plain = path.name.removesuffix(".gz")
    if plain.endswith(".csv"):
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError) as exc:
            raise MolgenInputError(f"{path}: cannot read the CSV ({exc})") from exc
        columns = {c.lower(): c for c in table.columns}
        if "smiles" not in columns:
            raise MolgenInputError(f"{path}: no 'smiles' column (columns: {', '.join(table.columns)})")
        names = table[columns["name"]] if "name" in columns else ""
        out = pd.DataFrame({"smiles": table[columns["smiles"]].str.strip(), "name": names})
    else:
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8") as fh:
                lines = [line.split() for line in fh if line.strip() and not line.lstrip().startswith("#")]
        except (OSError, UnicodeDecodeError) as exc:
            raise MolgenInputError(f"{path}: cannot read the SMILES file ({exc})") from exc
        if lines and lines[0][0].lower() == "smiles":
            lines = lines[1:]
        out = pd.DataFrame({"smiles": [p[0] for p in lines], "name": [" ".join(p[1:]) for p in lines]})
    if out.empty:
        raise MolgenInputError(f"{path}: no SMILES in the file")
    return out.reset_index(drop=True)


def shard_paths(outdir: Path, prefix: str, n_molecules: int, shard_size: int) -> list[Path]:
    """``outdir/<prefix>_000.sdf.gz`` ... one per ``shard_size`` molecules (at least 3 digits)."""
    n_shards = max(1, -(-n_molecules // shard_size))
    digits = max(3, len(str(n_shards - 1)))
    return [outdir / f"{prefix}_{k:0{digits}d}.sdf.gz" for k in range(n_shards)]


def embed_record(task: tuple) -> tuple[int, str | None, str]:
    """Worker: ``(index, smiles, title, seed, max_iters, timeout, index_property)`` ->
    ``(index, SD record text or None, failure reason or "")``."""
    from rdkit import Chem

    from molgen.chem.conformers import ConformerError, embed_conformer

    index, smiles, title, seed, max_iters, timeout, index_property = task
    try:
        mol = embed_conformer(smiles, seed + index, max_iters=max_iters, timeout=timeout)
    except ConformerError as exc:
        return index, None, str(exc)
    except Exception as exc:  # an RDKit error on an odd molecule must not end the run
        return index, None, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    mol.SetProp("_Name", title)
    mol.SetProp("smiles", smiles)
    mol.SetProp(index_property, str(index))
    buf = io.StringIO()
    writer = Chem.SDWriter(buf)
    writer.write(mol)
    writer.close()
    return index, buf.getvalue(), ""


def _progress_path(shard: Path) -> Path:
    return shard.parent / "progress" / (shard.name.removesuffix(".sdf.gz") + ".csv")


def _shard_done(shard: Path) -> bool:
    return shard.is_file() and _progress_path(shard).is_file()


def _count_records(shard: Path) -> int:
    with gzip.open(shard, "rt", encoding="utf-8") as fh:
        return sum(1 for line in fh if line.startswith("$$$$"))


def _write_shard(shard: Path, blocks: list[str]) -> None:
    with atomic_path(shard) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write("".join(blocks).encode("utf-8"))


def _check_settings(path: Path, settings: dict) -> None:
    """Record the settings of a new run; refuse to resume shards built with other settings."""
    if path.is_file():
        before = json.loads(path.read_text())
        changed = {k: (before.get(k), v) for k, v in settings.items() if before.get(k) != v}
        if changed:
            detail = ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in changed.items())
            raise MolgenInputError(f"{path.parent.parent}: holds shards built with other settings ({detail}); "
                                   "use a new outdir (or the same settings to resume)")
    else:
        write_atomic(path, json.dumps(settings, indent=1))


def build_conformers(
    smiles: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    n_jobs: int = 1,
    shard_size: int = 10_000,
    seed: int = 0xC0FFEE,
    max_iters: int = 2000,
    timeout: float | None = None,
    prefix: str | None = None,
    index_property: str = "index",
    limit: int | None = None,
    progress: bool = True,
) -> ConformerRun:
    """Embed every molecule of ``smiles`` into shards under ``outdir`` (module docstring).

    Args:
        n_jobs: worker processes (1: in this process).
        shard_size: molecules per shard (by index, failures included).
        seed: molecule ``i`` is embedded with ``seed + i``.
        max_iters, timeout: see :func:`molgen.chem.conformers.embed_conformer`.
        prefix: shard name prefix; default the SMILES file's stem.
        index_property: the SD property holding the molecule's index.
        limit: only the first ``limit`` molecules.
        progress: show a progress bar (molecules).

    Raises:
        MolgenInputError: bad SMILES file or settings.
    """
    start = time.perf_counter()
    if int(n_jobs) < 1:
        raise MolgenInputError(f"n_jobs={n_jobs}: must be >= 1")
    if int(shard_size) < 1:
        raise MolgenInputError(f"shard_size={shard_size}: must be >= 1")
    source = Path(smiles)
    table = read_smiles_file(source)
    if limit is not None:
        table = table.iloc[: int(limit)]
    prefix = prefix or _smiles_stem(source)
    outdir = Path(outdir)
    shards = shard_paths(outdir, prefix, len(table), int(shard_size))
    run = ConformerRun(n_molecules=len(table), shards=shards)
    _check_settings(outdir / "progress" / f"{prefix}.settings.json", {
        "smiles": source.name, "n_molecules": len(table), "shard_size": int(shard_size), "seed": int(seed),
        "max_iters": int(max_iters), "index_property": index_property,
    })  # fmt: skip
    todo = [k for k, shard in enumerate(shards) if not _shard_done(shard)]
    run.skipped = len(shards) - len(todo)
    n_todo = sum(len(table.iloc[k * shard_size : (k + 1) * shard_size]) for k in todo)
    if run.skipped:
        log.info("%d of %d shards already done in %s: skipped", run.skipped, len(shards), outdir)

    from tqdm.auto import tqdm

    pool = None
    if int(n_jobs) > 1 and n_todo > 1:
        import multiprocessing

        pool = multiprocessing.get_context("fork" if os.name == "posix" else "spawn").Pool(int(n_jobs))
    try:
        with tqdm(total=n_todo, desc=f"conformers ({n_jobs} jobs)", unit="mol", disable=not progress) as bar:
            for k in todo:
                part = table.iloc[k * shard_size : (k + 1) * shard_size]
                tasks = [(int(i), smi, name or f"{prefix}_{i}", int(seed), int(max_iters), timeout, index_property)
                         for i, smi, name in zip(part.index, part["smiles"], part["name"])]
                results = pool.imap(embed_record, tasks, chunksize=4) if pool else map(embed_record, tasks)
                blocks, failed = [], []
                for index, block, reason in results:
                    if block is None:
                        failed.append((index, table.at[index, "smiles"], reason))
                    else:
                        blocks.append(block)
                    bar.update(1)
                write_csv_atomic(pd.DataFrame(failed, columns=list(FAILURE_COLUMNS)), _progress_path(shards[k]))
                _write_shard(shards[k], blocks)
                run.built += 1
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()

    failures = [pd.read_csv(_progress_path(s), dtype={"smiles": str, "reason": str}, keep_default_na=False)
                for s in shards]  # fmt: skip
    run.failures = pd.concat(failures, ignore_index=True) if failures else run.failures
    write_csv_atomic(run.failures, outdir / "failures.csv")
    run.n_written = sum(_count_records(s) for s in shards)
    run.seconds = time.perf_counter() - start
    return run
