"""The ``molgen`` console entry point: argument handling before Hydra sees the overrides."""

from __future__ import annotations

import pytest

from molgen.cli import main, quote_list_values


@pytest.mark.parametrize("arg,expect", [
    ("contig=10-20,A5-20,10-20", "contig='10-20,A5-20,10-20'"),   # RFdiffusion style, as typed
    ("+contig=5,A1-5", "+contig='5,A1-5'"),
    ("contig='10-20,A5-20'", "contig='10-20,A5-20'"),             # already quoted
    ("contig=[10-20,A5-20]", "contig=[10-20,A5-20]"),             # a Hydra list
    ("contig=10-20/A5-20/10-20", "contig=10-20/A5-20/10-20"),     # no comma
    ("n_samples=1,2", "n_samples=1,2"),                           # other keys: a sweep stays a sweep
    ("task.module.contig_note=a,b", "task.module.contig_note=a,b"),
])
def test_contig_commas_are_quoted_for_hydra(arg, expect):
    assert quote_list_values(arg) == expect


def test_help_lists_the_commands(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("train", "sample", "eval", "collect"))


def test_sample_help_lists_the_main_keys_with_defaults_per_task(capsys):
    from molgen.config import CONFIG_DIR

    main(["sample", "--help"])
    out = capsys.readouterr().out
    settings = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and "=" in line}
    assert {"n_samples=10", "seed=0", "receptor=null", "n_atoms=null", "length=100", "contig=null",
            "fix_fragment=null", "guidance_scale=null"} <= settings
    assert "PDB / mmCIF, plain or .gz" in out  # the config's own comments explain the keys
    table = out[out.index("per task"):].splitlines()[2:]
    tasks = sorted(p.stem for p in (CONFIG_DIR / "task").glob("*.yaml"))
    assert sorted(row.split()[0] for row in table) == tasks and table[0].split()[0] == "ligand_pocket"
    assert table[0].split()[1:] == ["data/checkpoints/ligand_pocket.pt", "DDIMSampler", "100",
                                    "out/ligand_pocket"]


def test_eval_help_lists_its_keys(capsys):
    main(["eval", "--help"])
    out = capsys.readouterr().out
    assert "vina_dock=true" in out and "Vina dock (re-docking; the slow part)" in out
    assert "per task" not in out


@pytest.mark.parametrize("args,line", [
    (["sample", "n_sample=5"], "molgen sample: no key 'n_sample' in this config: did you mean n_samples=5?"),
    (["train", "trainer.max_step=2", "--cfg", "job"],
     "molgen train: no key 'trainer.max_step' in this config: did you mean trainer.max_steps=2?"),
    (["sample", "-m", "n_sample=5", "seed=0,1"], "did you mean n_samples=5?"),  # a sweep
])
def test_a_misspelt_key_names_the_key_meant(capsys, args, line):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 1
    assert line in capsys.readouterr().err


def test_an_unknown_key_with_no_near_match_gets_hydras_message_only(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "zzzz=1"])
    err = capsys.readouterr().err
    assert "Could not override 'zzzz'" in err and "did you mean" not in err
