"""The designability plug-in: skipped without tools, scored with stand-in commands."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import pytest

from molgen.io.chains import ChainRecord
from molgen.metrics.designability import ESMFOLD_CMD_ENV, MPNN_CMD_ENV, designability, read_fasta
from molgen.protein.structure import write_pdb

FAKE_MPNN = """\
import sys, pathlib
pdb, out, n = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
length = sum(1 for line in open(pdb) if line.startswith("ATOM") and line[12:16] == " CA ")
(out / "seqs").mkdir()
records = [">native, score=2.0\\n" + "G" * length] + [f">T=0.1, sample={i}, score=1.0\\n" + "A" * length
                                                     for i in range(1, n + 1)]
(out / "seqs" / "x.fa").write_text("\\n".join(records) + "\\n")
"""

FAKE_FOLD = """\
import sys, pathlib, shutil
fasta, out, ref = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
for line in open(fasta):
    if line.startswith(">"):
        shutil.copy(ref, out / (line[1:].strip() + ".pdb"))
"""


@pytest.fixture()
def pdb(ts50: list[ChainRecord], tmp_path: Path) -> Path:
    return write_pdb(ts50[0].backbone, tmp_path / "bb.pdb", sequence="A")


def test_skipped_without_tools(pdb: Path, monkeypatch, caplog) -> None:
    monkeypatch.delenv(MPNN_CMD_ENV, raising=False)
    monkeypatch.delenv(ESMFOLD_CMD_ENV, raising=False)
    with caplog.at_level(logging.WARNING):
        assert designability([pdb]) is None
    assert MPNN_CMD_ENV in caplog.text and ESMFOLD_CMD_ENV in caplog.text


def test_with_stand_in_tools(pdb: Path, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mpnn.py").write_text(FAKE_MPNN)
    (tmp_path / "fold.py").write_text(FAKE_FOLD)
    py = shlex.quote(sys.executable)
    monkeypatch.setenv(MPNN_CMD_ENV, f"{py} {tmp_path / 'mpnn.py'} {{pdb}} {{out_dir}} {{num_seqs}}")
    fold = f"{py} {tmp_path / 'fold.py'} {{fasta}} {{out_dir}} {pdb}"
    table = designability([pdb, tmp_path / "missing.pdb"], esmfold_cmd=fold, num_seqs=3, workdir=tmp_path)
    ok, bad = table.to_dict("records")
    assert ok["n_seqs"] == 3 and ok["sc_rmsd_min"] < 1e-3 and ok["designable"] and ok["error"] == ""
    assert not bad["designable"] and "not found" in bad["error"]
    failing = designability([pdb], esmfold_cmd=f"{py} -c 'raise SystemExit(3)'", workdir=tmp_path)
    assert "command failed (3)" in failing.loc[0, "error"]


def test_read_fasta(tmp_path: Path) -> None:
    (tmp_path / "a.fa").write_text(">one x\nAC\nDE\n>two\nGG\n")
    assert read_fasta(tmp_path / "a.fa") == [("one x", "ACDE"), ("two", "GG")]
