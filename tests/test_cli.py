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
