"""Benchmark settings: quick profile, key=value overrides, refusal of unknown keys."""

from __future__ import annotations

import pytest

from molgen import benchmarking
from molgen.errors import MolgenInputError


@pytest.fixture
def bench_dir(tmp_path, monkeypatch):
    (tmp_path / "toy.yaml").write_text("n: 100\nsteps: 200\nsub:\n  a: 1\nquick:\n  n: 5\n")
    monkeypatch.setattr(benchmarking, "BENCHMARK_DIR", tmp_path)
    return tmp_path


def test_full_and_quick_profiles(bench_dir):
    full = benchmarking.benchmark_config("toy")
    quick = benchmarking.benchmark_config("toy", quick=True)
    assert (full.n, full.steps) == (100, 200) and "quick" not in full
    assert (quick.n, quick.steps) == (5, 200)


def test_overrides_apply_after_quick(bench_dir):
    cfg = benchmarking.benchmark_config("toy", quick=True, overrides=["n=7", "sub.a=3"])
    assert (cfg.n, cfg.sub.a) == (7, 3)


def test_unknown_key_and_bad_syntax_are_refused(bench_dir):
    with pytest.raises(MolgenInputError, match="toy.yaml"):
        benchmarking.benchmark_config("toy", overrides=["nn=7"])
    with pytest.raises(MolgenInputError, match="key=value"):
        benchmarking.benchmark_config("toy", overrides=["n"])
    with pytest.raises(MolgenInputError, match="no such benchmark"):
        benchmarking.benchmark_config("missing")
