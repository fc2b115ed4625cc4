"""The Python API speaks as the command line does (issue 14): a wrong format names the accepted
ones, and a gradient check prints the table `symbackprop check` prints."""

from __future__ import annotations

import pytest

import symbackprop
from symbackprop import cli
from symbackprop.cli import derive as derive_command
from symbackprop.errors import SymbackpropError


@pytest.mark.parametrize("fmt", ["pdf", "tex", "", "HTML"])
def test_an_unknown_format_names_the_accepted_ones(fmt: str) -> None:
    derivation = symbackprop.derive(symbackprop.load_spec("seed_chain"))
    with pytest.raises(SymbackpropError) as caught:
        symbackprop.render(derivation, fmt)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message and repr(fmt) in message
    assert all(name in message for name in derive_command.FORMATS)  # the parser's list


@pytest.mark.parametrize(("name", "seed"), [("xor", 0), ("classifier", 2)])
def test_a_gradient_check_prints_as_check_prints(
    name: str, seed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    result = symbackprop.gradcheck(symbackprop.load_spec(name), seed=seed)
    assert cli.main(["check", name, "--seed", str(seed), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert f"{result}\n" == printed
    assert printed.startswith(f"{name}: ") and "pass" in printed
