"""Inconsistent ``molgen sample`` overrides are caught at start-up, with the allowed values listed.

``validate_sample_config`` runs first in ``molgen.commands.sample.run``; Hydra itself refuses
unknown group options and keys. A few cases go through the real CLI: one line on stderr, exit 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, MissingConfigException

from molgen.commands.validate import validate_sample_config
from molgen.config import compose
from molgen.errors import MolgenInputError

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR = DEMO / "5d7n_D_rec.pdb"
LIGAND = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"

CASES = [
    (["n_samples=0"], r"n_samples=0: must be an integer >= 1"),
    (["n_samples=ten"], r"n_samples='ten': must be an integer >= 1"),
    (["steps=-5"], r"steps=-5: must be an integer >= 1 \(or null: the checkpoint's default\)"),
    (["batch_size=0"], r"batch_size=0: must be an integer >= 1"),
    (["threads=0"], r"threads=0: must be an integer >= 1 \(or null: torch's default\)"),
    (["seed=1.5"], r"seed=1\.5: must be an integer"),
    (["resume=maybe"], r"resume='maybe': must be true or false"),
    (["device=tpu"], r"device=tpu: allowed values are auto, cpu, cuda, cuda:N"),
    (["n_atoms=0"], r"n_atoms=0: give a positive number or a range 'lo-hi' with 1 <= lo <= hi"),
    (["n_atoms=30-10"], r"n_atoms='30-10': give a positive number or a range 'lo-hi' with 1 <= lo <= hi"),
    (["n_atoms=many"], r"n_atoms='many': give a positive number or a range"),
    (["box_size=0"], r"box_size=0: must be a positive number \(Angstrom\) or 3 positive numbers"),
    (["box_size=-20.0"], r"box_size=-20\.0: must be a positive number"),
    (["cutoff=0"], r"cutoff=0: must be a positive number \(Angstrom\)"),
    (["cutoff=-3.5"], r"cutoff=-3\.5: must be a positive number \(Angstrom\)"),
    ([f"receptor={RECEPTOR}", "box_center=[1.0,2.0]"], r"box_center=\[1\.0, 2\.0\]: must be 3 numbers"),
    ([f"receptor={RECEPTOR}", "residues=D145"], r"residues: cannot read 'D145'; expected CHAIN:NUMBER"),
    ([f"receptor={RECEPTOR}", f"ref_ligand={LIGAND}", "residues=D:145"],
     r"pocket: give one of ref_ligand=, residues=, box_center= \(\+ box_size=\), got ref_ligand, residues"),
    (["residues=D:145"], r"residues=\.\.\.: needs receptor=<PDB or mmCIF file>"),
    (["receptor=/no/such/rec.pdb"], r"receptor=/no/such/rec\.pdb: file not found"),
    (["fix_fragment=/no/frag.sdf"], r"fix_fragment=/no/frag\.sdf: file not found"),
    (["resample=0"], r"resample=0: must be an integer >= 1"),
    (["guidance_scale=nan"], r"guidance_scale=nan: must be a finite number"),
    (["guidance_scale=[1,2,3]"],
     r"guidance_scale=\[1, 2, 3\]: must be a finite number .* or two, \[positions, chemistry\]"),
    (["clash_distance=-1"],
     r"clash_distance=-1: give a distance in Angstrom \(e\.g\. 2\.8\), 0 for no pocket repulsion"),
    (["join_fragments=maybe"], r"join_fragments='maybe': give true, false, or null for the default"),
    (["relax=2"], r"relax=2: give true, false, or null for the default"),
    (["elements=[C,1]"], r"elements=\['C', 1\]: must be a list of element symbols, e\.g\. \[C,N,O\]"),
    (["fix_atoms=[0,-1]"], r"fix_atoms=\[0, -1\]: must be a list of 0-based atom indices"),
    (["task=backbone", "length=0"], r"length=0: give a positive number of residues or a range 'lo-hi'"),
    (["task=backbone", "length=150-50"], r"length='150-50': give a positive number of residues"),
    (["task=backbone", "residue=W"], r"residue=W: allowed values are G, A"),
]


def _cfg(overrides: list[str], ckpt: Path | None):
    return compose("sample", ([f"ckpt={ckpt}"] if ckpt else []) + overrides)


@pytest.mark.parametrize(("overrides", "match"), CASES, ids=[" ".join(o) for o, _ in CASES])
def test_bad_sample_override_is_named_with_allowed_values(tiny_checkpoint, overrides, match) -> None:
    with pytest.raises(MolgenInputError, match=match):
        validate_sample_config(_cfg(overrides, tiny_checkpoint))


def test_every_problem_is_reported_at_once(tiny_checkpoint) -> None:
    with pytest.raises(MolgenInputError) as info:
        validate_sample_config(_cfg(["n_samples=0", "steps=-1", "device=tpu", "cutoff=0"], tiny_checkpoint))
    message = str(info.value)
    assert "\n" not in message and message.count("; ") == 3
    for key in ("n_samples=0", "steps=-1", "device=tpu", "cutoff=0"):
        assert key in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_requested_without_gpu(tiny_checkpoint) -> None:
    match = r"device=cuda:1: no CUDA device is available \(use device=cpu"
    with pytest.raises(MolgenInputError, match=match):
        validate_sample_config(_cfg(["device=cuda:1"], tiny_checkpoint))


@pytest.mark.parametrize("overrides", [
    [], ["n_atoms=15-25", "steps=10", "device=cpu", "seed=-3"],
    [f"receptor={RECEPTOR}", f"ref_ligand={LIGAND}", "cutoff=8"],
    [f"receptor={RECEPTOR}", "box_center=[24.2,29.7,-10.8]", "box_size=[16,12,10]"],
    [f"receptor={RECEPTOR}", "residues=[D:145,D:146]", "elements=[C,N,O]", "guidance_scale=0"],
    ["task=backbone", "length=50-80", "residue=A"],
], ids=["defaults", "controls", "ref_ligand", "box", "residues", "backbone"])
def test_good_configs_pass(tiny_checkpoint, overrides) -> None:
    validate_sample_config(_cfg(overrides, tiny_checkpoint))


@pytest.mark.parametrize(("config", "overrides", "error", "match"), [
    ("sample", ["sampler=nope"], MissingConfigException,
     r"Could not find 'sampler/nope'\n\nAvailable options in 'sampler':\n\tddim\n\tddpm\n\tode"),
    ("train", ["model=nope"], MissingConfigException, r"(?s)Could not find 'model/nope'.*\n\tegnn\n"),
    ("sample", ["task=nope"], MissingConfigException,
     r"(?s)Could not find 'task/nope'.*\n\tbackbone\n\tligand_pocket"),
    ("sample", ["n_sample=5"], ConfigCompositionException, r"Could not override 'n_sample'"),
])
def test_hydra_refuses_unknown_names_listing_options(config, overrides, error, match) -> None:
    with pytest.raises(error, match=match):
        compose(config, overrides)


def test_cli_reports_bad_overrides_in_one_line_and_exit_1(molgen_popen, tiny_checkpoint, tmp_path) -> None:
    """Two real ``molgen sample`` processes side by side: start-up validation, and Hydra's own error
    for an unknown group option (``model=nope`` etc. read the same, see the test above)."""
    runs = {
        "validate": molgen_popen("sample", f"ckpt={tiny_checkpoint}", "n_samples=0", "device=tpu",
                                 f"outdir={tmp_path / 'a'}", cwd=tmp_path),
        "sampler": molgen_popen("sample", "sampler=nope", f"outdir={tmp_path / 'b'}", cwd=tmp_path),
    }
    out = {name: (p.communicate(timeout=300), p.returncode) for name, p in runs.items()}
    (_, stderr), rc = out["validate"]
    assert rc == 1, stderr
    assert stderr.strip().splitlines()[-1] == ("molgen sample: error: n_samples=0: must be an integer >= 1; "
                                              "device=tpu: allowed values are auto, cpu, cuda, cuda:N")
    assert "Traceback" not in stderr and not (tmp_path / "a" / "batches").exists()
    (_, stderr), rc = out["sampler"]
    assert rc == 1 and "Could not find 'sampler/nope'" in stderr
    assert "Available options in 'sampler':\n\tddim\n\tddpm\n\tode" in stderr
    assert {p.name for p in tmp_path.iterdir()} <= {"a", "b"}, "nothing written outside outdir"


def test_fix_atoms_without_receptor_picks_the_demo_reference_ligand(tiny_checkpoint) -> None:
    """The newcomer's fragment growing: no receptor, no ref_ligand -> atoms of the demo's ligand."""
    from molgen.commands.sample import _fragment

    from rdkit import Chem

    frag = _fragment(_cfg(["fix_atoms=[0,1,2]"], tiny_checkpoint))
    ref = Chem.MolFromMolFile(str(LIGAND))
    assert frag.GetNumAtoms() == 3
    assert (frag.GetConformer().GetPositions() == ref.GetConformer().GetPositions()[:3]).all()
    with pytest.raises(MolgenInputError, match="give ref_ligand"):
        _fragment(_cfg([f"receptor={RECEPTOR}", "fix_atoms=[0,1,2]"], tiny_checkpoint))


@pytest.mark.parametrize("setting, message", [
    ("clash_distance=2.8", "clash_distance: pocket repulsion needs a bond-aware"),
    ("join_fragments=true", "join_fragments: fragment attraction needs a bond-aware"),
])
def test_a_sampling_guide_with_an_atoms_only_model_is_refused(tiny_checkpoint, tmp_path, setting,
                                                              message) -> None:
    """Pocket repulsion and fragment attraction guide the bond-aware flow's clean estimate; the
    atoms-only model has none."""
    from molgen.commands.sample import _sample_ligands

    out = tmp_path / "o"
    with pytest.raises(MolgenInputError, match=message):
        _sample_ligands(_cfg([setting, "n_samples=2", "device=cpu"], tiny_checkpoint), out)
    assert not (out / "ligands.sdf").exists()
