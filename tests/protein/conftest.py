"""Fixtures of the protein tests: TS50 chains from the shared data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from molgen.io.chains import ChainRecord, read_chains


@pytest.fixture(scope="session")
def ts50_path(shared_data: Path) -> Path:
    path = shared_data / "proteins" / "ts50.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (TS50 chains needed)")
    return path


@pytest.fixture(scope="session")
def ts50(ts50_path: Path) -> list[ChainRecord]:
    return read_chains(ts50_path)


@pytest.fixture(scope="session")
def helical_chain(ts50: list[ChainRecord]) -> ChainRecord:
    """3pivA: a mostly helical TS50 chain (DSSP helix ~0.7)."""
    return next(r for r in ts50 if r.name == "3pivA")
