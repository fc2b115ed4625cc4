"""The IR's accessors (`Derivation.rule`, `general_rule`, `relabeled`, `shifted`), checked
against the equations `derive --format latex` prints: what `verify` quotes is what it prints."""

from __future__ import annotations

import re
from functools import cache

import pytest
import sympy

from symbackprop import derive, load_spec, render
from symbackprop import notation as nt
from symbackprop.ir import Derivation
from symbackprop.printing.latex import latex

l, L = nt.l_sym, nt.L_sym  # noqa: E741 (the lecture's layer symbols)


@cache
def derivation(name: str) -> Derivation:
    return derive(load_spec(name))


@cache
def printed(name: str) -> dict[str, tuple[str, list[str]]]:
    """The printed LaTeX document's equations by tag: (lhs, the right-hand sides in order)."""
    document = render(derivation(name), "latex")
    out: dict[str, tuple[str, list[str]]] = {}
    for block in re.findall(r"\\begin\{align\}\n(.*?)\n\\end\{align\}", document, re.S):
        found = re.search(r"\\tag\{([^}]*)\}", block)
        assert found is not None, block
        rows = [re.sub(r"\\tag\{[^}]*\}|\\notag", "", row).strip() for row in block.split("\\\\\n")]
        lhs, first = rows[0].split(" &= ", 1)
        out[found.group(1)] = (lhs, [first, *(row.removeprefix("&= ") for row in rows[1:])])
    return out


def shown(name: str, tag: str, form: int) -> str:
    """The printed equation `tag` as 'lhs = rhs', its right-hand side number `form`."""
    lhs, rhs = printed(name)[tag]
    return f"{lhs} = {rhs[form]}"


def stated(name: str, view: str, kind: str, layer: int | sympy.Expr) -> str | None:
    eq = derivation(name).rule(view, kind, layer)  # type: ignore[arg-type]
    return None if eq is None else f"{latex(eq.lhs)} = {latex(eq.final)}"


def moved(text: str, layers: dict[str, str]) -> str:
    """Printed text with layer superscripts renamed: {"1": "L-1"} makes ^{(1)} into ^{(L-1)}."""
    return re.sub(r"\^\{\(([^)]*)\)\}", lambda m: f"^{{({layers.get(m[1], m[1])})}}", text)


def test_a_numbered_layer_reads_its_own_equation_with_the_partials_filled_in() -> None:
    assert stated("multi_node", "index", "dE_dw", 2) == shown("multi_node", "I2.w", 1)
    assert stated("multi_node", "chain", "dE_db", 1) == shown("multi_node", "C1.b", 1)
    assert stated("classifier", "index", "jacobian", 2) == shown("classifier", "I2.J", 0)


def test_the_loss_and_the_output_gradient_belong_to_the_output_layer() -> None:
    assert stated("multi_node", "index", "loss", 2) == shown("multi_node", "I2.E", 0)
    # dE/da^(2) at the output is dE_da_out, not the dE_da_prev of a layer 3
    assert stated("multi_node", "index", "dE_da_prev", 2) == shown("multi_node", "I2.a", 0)
    # dE/da^(1) is passed back by layer 2
    assert stated("multi_node", "index", "dE_da_prev", 1) == shown("multi_node", "I2.p", 1)


def test_layers_the_network_lacks_have_no_rule() -> None:
    assert stated("multi_node", "index", "dE_dw", 3) is None
    assert stated("multi_node", "index", "dE_dw", 0) is None
    assert stated("multi_node", "vector", "sigma_prime", 1) is None  # no such kind in that view


def test_L_and_l_read_the_general_rules() -> None:
    assert stated("multi_node", "index", "dE_dw", L) == shown("multi_node", "IL.w", -1)
    assert stated("multi_node", "index", "dE_dw", l) == shown("multi_node", "Il.w", -1)
    assert stated("multi_node", "vector", "delta", L) == shown("multi_node", "VL.d", -1)
    # ∂E/∂a^(l-1) is stated by layer l: the rule at l, not moved
    assert stated("multi_node", "chain", "dE_da_prev", l - 1) == shown("multi_node", "Cl.p", -1)


def test_a_general_rule_moved_to_another_layer() -> None:
    want = moved(shown("multi_node", "Il.b", -1), {"l": "l+1", "l-1": "l", "l+1": "l+2"})
    assert stated("multi_node", "index", "dE_db", l + 1) == want
    # L-1 without a rule at L of that kind: the rule at l moved to L-1
    want = moved(shown("multi_node", "Il.b", -1), {"l": "L-1", "l-1": "L-2", "l+1": "L"})
    assert stated("multi_node", "index", "dE_db", L - 1) == want


def test_a_softmax_output_reads_the_layers_own_equations_counted_from_the_output() -> None:
    assert stated("classifier", "vector", "delta", L) == moved(
        shown("classifier", "V2.d", 1), {"2": "L", "1": "L-1"}
    )
    assert stated("classifier", "index", "dE_dw", L - 1) == moved(
        shown("classifier", "I1.w", 1), {"2": "L", "1": "L-1", "0": "L-2"}
    )


def test_L_minus_one_with_a_rule_at_L_is_the_hidden_rule_moved() -> None:
    want = moved(shown("multi_node", "Vl.d", -1), {"l": "L-1", "l+1": "L"})
    assert stated("multi_node", "vector", "delta", L - 1) == want


def test_relabeled_and_shifted_keep_the_kind_and_move_the_layer() -> None:
    d = derivation("classifier")
    eq = d.layers[0].equation("index", "dE_dw")
    assert eq is not None
    out = d.relabeled(eq)
    assert (out.view, out.kind, out.layer) == ("index", "dE_dw", L - 1)
    assert latex(out.lhs) == moved(latex(eq.lhs), {"1": "L-1"})
    assert len(out.rhs) == len(eq.rhs)
    general = d.general_rule("index", "dE_dw", l)
    assert general is not None
    there = Derivation.shifted(general, sympy.Integer(2))
    assert there.layer == 2
    assert latex(there.final) == moved(latex(general.final), {"l": "2", "l-1": "1"})


def test_a_layer_must_be_a_number_or_L_or_l_plus_a_number() -> None:
    with pytest.raises(ValueError, match="a layer is a number"):
        derivation("multi_node").rule("index", "dE_dw", 2 * l)
    assert derivation("multi_node").general_rule("index", "dE_dw", l - 1) is None
