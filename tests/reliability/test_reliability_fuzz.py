"""Property-based fuzzing of the readers on mutated real files: parse, or MolgenInputError.

Each reader gets the bundled demo files (PDB, mmCIF, SDF, XYZ; plain and gzipped) with random
byte flips, truncations, deleted / duplicated / swapped lines and overwritten column ranges. It
must either return a result or raise :class:`MolgenInputError`: never another exception type,
never hang (each call runs under a 10 s alarm). Bounded (``MOLGEN_FUZZ_EXAMPLES``, default 50
per reader, derandomized) so it runs in the default suite; ``MOLGEN_FUZZ_EXAMPLES=2000
MOLGEN_FUZZ_RANDOM=1`` fuzzes for real.
"""

from __future__ import annotations

import functools
import gzip
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molgen.errors import MolgenInputError
from molgen.io.pocket import read_pocket, select_pocket
from molgen.io.sdf import read_ligands
from molgen.io.structure import read_protein
from molgen.io.xyz import read_xyz

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "SIR3_HUMAN_117_398_0"
POCKET10 = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0_pocket10.pdb"
LIGAND = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"

FUZZ = settings(
    max_examples=int(os.environ.get("MOLGEN_FUZZ_EXAMPLES", "50")),
    deadline=None,
    database=None,
    derandomize=not os.environ.get("MOLGEN_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TIMEOUT_S = 10


@contextmanager
def time_limit(seconds: int = TIMEOUT_S) -> Iterator[None]:
    """Fail (TimeoutError) when the block runs longer than ``seconds`` (SIGALRM, main thread)."""

    def on_alarm(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"reader still running after {seconds} s (hang?)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def parses_or_input_error(read: Callable[[], object]) -> None:
    """``read()`` returns, or raises MolgenInputError; any other exception fails the test."""
    with time_limit():
        try:
            read()
        except MolgenInputError as exc:
            assert str(exc), "MolgenInputError without a message"


def _xyz_text() -> bytes:
    mol = read_ligands(LIGAND)[0]
    pos = mol.GetConformer().GetPositions()
    lines = [str(mol.GetNumAtoms()), "demo ligand"]
    lines += [f"{a.GetSymbol()} {x:.5f} {y:.5f} {z:.5f}" for a, (x, y, z) in zip(mol.GetAtoms(), pos)]
    qm9 = ("3\ngdb 2693\t1.0\t2.0\t0.\t1.0\n"
           "O\t-8.7796*^-6\t 0.047293172\t 0.0000633051\t-0.170491\n"
           "H\t 0.7581\t 0.5865\t 1.2*^-5\t 0.085\nH\t-0.7581\t 0.5865\t 0.0\t 0.085\n"
           "1600.1\t3700.2\nO\tO\t\nInChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2\n")
    return ("\n".join(lines) + "\n" + qm9).encode()


def _cif_text() -> bytes:
    gemmi = pytest.importorskip("gemmi")
    st_ = gemmi.read_structure(str(POCKET10))
    st_.setup_entities()
    return st_.make_mmcif_document().as_string().encode()


SEEDS: dict[str, Callable[[], bytes]] = {
    "pdb": POCKET10.read_bytes,
    "sdf": LIGAND.read_bytes,
    "xyz": _xyz_text,
    "cif": _cif_text,
}
_NUMBERISH = b"0123456789-+.eE  nNaAiIfF*^"


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after 1-4 random edits (byte flips, cuts, line and column edits)."""
    data = bytes(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "delete", "duplicate", "swap", "columns", "insert"]))
        lines = data.split(b"\n")
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind in ("delete", "duplicate") and lines:
            i = draw(st.integers(0, len(lines) - 1))
            k = draw(st.integers(1, 5))
            lines[i:i + k] = [] if kind == "delete" else lines[i:i + k] * 2
            data = b"\n".join(lines)
        elif kind == "swap" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif kind == "columns" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            start, width = draw(st.integers(0, 80)), draw(st.integers(1, 12))
            alphabet = draw(st.sampled_from([_NUMBERISH, bytes(range(32, 127)), bytes(range(256))]))
            fill = bytes(draw(st.lists(st.sampled_from(list(alphabet)), min_size=width, max_size=width)))
            line = lines[i].ljust(start)
            lines[i] = line[:start] + fill + line[start + width:]
            data = b"\n".join(lines)
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data = data[:i] + draw(st.binary(min_size=1, max_size=20)) + data[i:]
    return data


def _write(tmp: Path, name: str, data: bytes, gz: bool) -> Path:
    path = tmp / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


@functools.cache
def seed(name: str) -> bytes:
    """The unmutated file of a format (a function, not a fixture: hypothesis prints fixtures)."""
    return SEEDS[name]()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=st.data(), gz=st.booleans(), fmt=st.sampled_from(["pdb", "cif"]))
def test_fuzz_read_protein(fuzz_dir, data, gz, fmt) -> None:
    blob = data.draw(mutated(seed(fmt)))
    path = _write(fuzz_dir, f"receptor.{fmt}", blob, gz)
    parses_or_input_error(lambda: read_protein(path))


@FUZZ
@given(data=st.data(), gz=st.booleans())
def test_fuzz_read_ligands(fuzz_dir, data, gz) -> None:
    path = _write(fuzz_dir, "ligand.sdf", data.draw(mutated(seed("sdf"))), gz)
    parses_or_input_error(lambda: read_ligands(path))


@FUZZ
@given(data=st.data(), gz=st.booleans(), head=st.sampled_from([None, 1]))
def test_fuzz_read_xyz(fuzz_dir, data, gz, head) -> None:
    path = _write(fuzz_dir, "mols.xyz", data.draw(mutated(seed("xyz"))), gz)
    parses_or_input_error(lambda: read_xyz(path, max_molecules=head))


@FUZZ
@given(data=st.data())
def test_fuzz_gz_container(fuzz_dir, data) -> None:
    """Corrupt the compressed bytes themselves (bad CRC, broken deflate stream, cut archive)."""
    blob = data.draw(mutated(gzip.compress(seed("sdf"), mtime=0)))
    for name, read in (("r.pdb.gz", read_protein), ("l.sdf.gz", read_ligands), ("m.xyz.gz", read_xyz)):
        path = fuzz_dir / name
        path.write_bytes(blob)
        parses_or_input_error(lambda: read(path))


@FUZZ
@given(data=st.data())
def test_fuzz_read_pocket_files(fuzz_dir, data) -> None:
    receptor = _write(fuzz_dir, "rec.pdb", data.draw(mutated(seed("pdb"))), False)
    ligand = _write(fuzz_dir, "ref.sdf", data.draw(mutated(seed("sdf"))), False)
    parses_or_input_error(lambda: read_pocket(receptor, ref_ligand=ligand, cutoff=8.0))


_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
_spec_text = st.text(alphabet="AD:,0123456789-ab ;[]' ", max_size=30)


@pytest.fixture(scope="module")
def protein():
    return read_protein(POCKET10)


@FUZZ
@given(
    kind=st.sampled_from(["ligand", "residues", "box", "several"]),
    ligand=st.lists(st.tuples(_floats, _floats, _floats), max_size=5),
    cutoff=_floats,
    spec=st.one_of(_spec_text, st.lists(_spec_text, max_size=4)),
    center=st.lists(_floats, min_size=0, max_size=4),
    size=st.one_of(_floats, st.lists(_floats, max_size=4)),
)
def test_fuzz_select_pocket(protein, kind, ligand, cutoff, spec, center, size) -> None:
    lig = np.asarray(ligand, dtype=np.float32).reshape(-1, 3)
    calls = {
        "ligand": lambda: select_pocket(protein, ref_ligand_pos=lig, cutoff=cutoff),
        "residues": lambda: select_pocket(protein, residues=spec),
        "box": lambda: select_pocket(protein, box_center=center, box_size=size),
        "several": lambda: select_pocket(protein, ref_ligand_pos=lig, residues=spec),
    }
    parses_or_input_error(calls[kind])
