"""Shared fixtures and the --update-golden switch for the committed files under generated/."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


#: The repeat cache's folder made for this run (removed at its end), if one was.
_CACHE_DIR: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """The repeat cache (symbackprop.cache) in a fresh folder for this run, never the user's;
    tests/test_cache.py sets its own."""
    if "SYMBACKPROP_CACHE_DIR" not in os.environ:
        _CACHE_DIR.append(tempfile.mkdtemp(prefix="symbackprop-cache-"))
        os.environ["SYMBACKPROP_CACHE_DIR"] = _CACHE_DIR[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CACHE_DIR:
        shutil.rmtree(_CACHE_DIR.pop(), ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the files under generated/ instead of comparing with them",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
