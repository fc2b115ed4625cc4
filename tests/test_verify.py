"""`symbackprop verify`: hand-derived formulas in the lecture's LaTeX notation, judged on a
network.  Round trip of every derived equation, the lecture's own rules, classic mistakes with
counterexamples, the "Concretely" slide, unreadable input (exit 2 with the position), --file,
stdin, and input that looks like a LaTeX injection."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from symbackprop import verify as verify_module
from symbackprop.derive import derive
from symbackprop.errors import SymbackpropError
from symbackprop.notation import Act, Bias, Target, Weight
from symbackprop.render import render
from symbackprop.selfcheck import forward, leaves
from symbackprop.spec import Layer, Network, activation, load_spec, loss
from symbackprop.verify import LatexError, Verdict, split_equations, verify, verify_text
from symbackprop.verify.point import Point
from tests.test_verify_corpus import check_document, excused

from .examples import dense_examples

MIXED = Network(
    name="mixed",
    inputs=2,
    layers=(
        Layer(3, activation("tanh")),
        Layer(2, activation("relu")),
        Layer(2, activation("sigmoid")),
    ),
    loss=loss("squared_error"),
)
#: Equal widths, so W and its transpose have the same shape.
SQUARE = Network(
    name="square",
    inputs=2,
    layers=(Layer(2, activation("sigmoid")), Layer(2, activation("sigmoid"))),
    loss=loss("squared_error"),
)


def network(name: str) -> Network:
    return MIXED if name == "mixed" else SQUARE if name == "square" else load_spec(name)


def holds(net: Network, equation: str) -> Verdict:
    verdict = verify(net, equation)
    assert verdict.holds, verdict.reason
    return verdict


def fails(net: Network, equation: str) -> Verdict:
    verdict = verify(net, equation)
    assert not verdict.holds, verdict.reason
    assert verdict.reason.startswith(("does not hold", "the ")), verdict.reason
    return verdict


# ---------------------------------------------------------------- round trip


def align_rows(document: str) -> str:
    """The bodies of every align environment of a rendered document."""
    return "\n".join(re.findall(r"\\begin\{align\}(.*?)\\end\{align\}", document, re.S))


@pytest.mark.parametrize("name", dense_examples())
def test_every_derived_equation_verifies(name: str) -> None:
    """Each align row holds, but for the exception tests/test_verify_corpus.py documents: a
    general rule with no layer on the network ("does not apply")."""
    net = load_spec(name)
    none = excused(name)
    text = align_rows(render(derive(net), "latex"))
    results = verify_text(net, text)
    assert len(results) == len(derive(net).all_equations()) >= 10
    for line, result in results:
        shown = text.splitlines()[line - 1]
        assert not isinstance(result, LatexError), f"{result.where()}{result.message}: {shown}"
        lhs = shown.split("&", 1)[0].strip()
        if lhs in none and not result.applies:
            continue
        assert result.holds, f"{shown}\n{result.reason}"
    assert sum(r.checked for _, r in results if isinstance(r, Verdict)) > 100


@pytest.mark.parametrize("name", dense_examples())
def test_a_whole_derived_document_verifies(name: str) -> None:
    """`verify --file` on `derive --format latex` output reads only its display math."""
    net = load_spec(name)
    document = render(derive(net), "latex")
    assert len(verify_text(net, document)) == document.count("\\begin{align}")
    check_document(name, document)


def test_round_trip_compares_numbers() -> None:
    """Changing one factor of a derived equation makes it fail: the round trip can fail."""
    net = load_spec("multi_node")
    text = align_rows(render(derive(net), "latex"))
    line = r"\frac{\partial E}{\partial a_{j}^{(2)}} &= 2 \left(a_{j}^{(2)} - y_{j}\right)"
    assert line in text
    broken = text.replace(line, line.replace("2 \\left", "3 \\left"))
    failed = [r for _, r in verify_text(net, broken) if isinstance(r, Verdict) and not r.holds]
    assert len(failed) == 1


# ---------------------------------------------------------------- the lecture's rules

LECTURE_INDEX = [
    r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l-1)} \cdot \sigma'(z_j^{(l)}) \cdot "
    r"\frac{\partial E}{\partial a_j^{(l)}}",
    r"\frac{\partial E}{\partial a_k^{(l-1)}} = \sum_{j=1}^{n^{(l)}} w_{jk}^{(l)} \cdot "
    r"\sigma'(z_j^{(l)}) \cdot \frac{\partial E}{\partial a_j^{(l)}}",
    r"\frac{\partial E}{\partial w_{jk}^{(L)}} = \frac{\partial E}{\partial a_j^{(L)}} \cdot "
    r"\frac{\partial a_j^{(L)}}{\partial z_j^{(L)}} \cdot \frac{\partial z_j^{(L)}}{\partial "
    r"w_{jk}^{(L)}}",
    r"\frac{\partial E}{\partial a_k^{(L-1)}} = \sum_{j=1}^{n^{(L)}} \frac{\partial z_j^{(L)}}"
    r"{\partial a_k^{(L-1)}} \cdot \frac{\partial a_j^{(L)}}{\partial z_j^{(L)}} \cdot "
    r"\frac{\partial E}{\partial a_j^{(L)}}",
    r"\frac{\partial E}{\partial b_j^{(l)}} = \sigma'(z_j^{(l)}) "
    r"\frac{\partial E}{\partial a_j^{(l)}}",
    r"\frac{\partial E}{\partial a_j^{(L)}} = 2(a_j^{(L)} - y_j)",
    r"E = \sum_{j=1}^{n^{(L)}} (a_j^{(L)} - y_j)^2",
    r"z_j^{(l)} = \sum_{k=1}^{n^{(l-1)}} w_{jk}^{(l)} a_k^{(l-1)} + b_j^{(l)}",
    r"a_j^{(l)} = \sigma(z_j^{(l)})",
]
LECTURE_VECTOR = [
    r"\delta^{(l)} = \left(\left(W^{(l+1)}\right)^{T} \delta^{(l+1)}\right) \odot "
    r"\sigma'\left(z^{(l)}\right)",
    r"\delta^{(l)} = (W^{(l+1)})^\top \delta^{(l+1)} \odot \sigma'(z^{(l)})",
    r"\delta^{(L)} = \frac{\partial E}{\partial a^{(L)}} \odot \sigma'(z^{(L)})",
    r"\frac{\partial E}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^{T}",
    r"\frac{\partial E}{\partial b^{(l)}} = \delta^{(l)}",
]
LECTURE_CHAIN = [
    r"\frac{\partial E}{\partial w^{(L)}} = 2(a^{(L)} - y) \cdot \sigma'(z^{(L)}) \cdot a^{(L-1)}",
    r"\frac{\partial E}{\partial b^{(L)}} = 2(a^{(L)} - y) \cdot \sigma'(z^{(L)})",
    r"\frac{\partial E}{\partial \mathbf{w}^{(L)}} = \frac{\partial E}{\partial a^{(L)}} \cdot "
    r"\frac{\partial a^{(L)}}{\partial z^{(L)}} \cdot \frac{\partial z^{(L)}}{\partial "
    r"\mathbf{w}^{(L)}}",
    r"E = (a^{(L)} - y)^2",
]


@pytest.mark.parametrize("name", ["seed_chain", "multi_node", "mixed"])
@pytest.mark.parametrize("equation", LECTURE_INDEX + LECTURE_VECTOR + LECTURE_CHAIN)
def test_the_lecture_rules_hold(name: str, equation: str) -> None:
    verdict = holds(network(name), equation)
    assert verdict.checked >= 3
    assert verdict.tolerance == 1e-9


def test_one_neuron_forms_on_a_wide_network_use_the_chain() -> None:
    verdict = holds(load_spec("multi_node"), LECTURE_CHAIN[0])
    assert "one-neuron-per-layer chain" in verdict.reason


def test_softmax_jacobian_and_its_mistake() -> None:
    net = load_spec("classifier")
    holds(
        net, r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} = a_i^{(L)}(\delta_{ij} - a_j^{(L)})"
    )
    verdict = fails(
        net, r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} = a_i^{(L)}(a_j^{(L)} - \delta_{ij})"
    )
    assert verdict.instance is not None
    assert verdict.correct == (
        r"\frac{\partial a_{i}^{(L)}}{\partial z_{j}^{(L)}} = "
        r"a_{i}^{(L)} \left(- a_{j}^{(L)} + \delta_{i j}\right)"
    )


ELEMENTWISE_DELTA = r"\delta^{(l)} = \frac{\partial E}{\partial a^{(l)}} \odot \sigma'(z^{(l)})"


def test_a_general_sigma_prime_rule_skips_the_softmax_output() -> None:
    """A rule written for layer l with σ'(z_j^{(l)}) (or ∂a_j^{(l)}/∂z_j^{(l)}) is a rule for
    elementwise layers: on classifier it is checked at the tanh layer l = 1 only, and the
    verdict says that the softmax output l = 2 was left out, and where its rule is."""
    net = load_spec("classifier")
    for equation in (LECTURE_INDEX[0], LECTURE_INDEX[1], LECTURE_INDEX[4], ELEMENTWISE_DELTA):
        verdict = holds(net, equation)
        assert verdict.checked > 0
        assert "not at the softmax output l = 2, where σ' is the Jacobian" in verdict.reason
        assert re.search(r"at l = 1\b.*see \([IV]L\.[dw]\)$", verdict.reason), verdict.reason
    hidden = LECTURE_INDEX[0].replace("(l)", "(1)").replace("(l-1)", "(0)")
    assert "softmax" not in holds(net, hidden).reason
    # the same rule with L or with 2 is a claim about the softmax output, and false there
    for layer in ("L", "2"):
        below = "L-1" if layer == "L" else "1"
        wrong = LECTURE_INDEX[0].replace("(l)", f"({layer})").replace("(l-1)", f"({below})")
        verdict = fails(net, wrong)
        assert verdict.instance is not None and verdict.applies
        assert verdict.instance.left != pytest.approx(verdict.instance.right, rel=1e-6)
    verdict = fails(net, LECTURE_INDEX[2])  # written with L: judged at the softmax output
    assert verdict.instance is not None and verdict.applies


def test_the_jacobian_forms_at_layer_l_are_checked_at_the_softmax_output() -> None:
    """∂a_i^{(l)}/∂z_j^{(l)} (two units) and (∂a^{(l)}/∂z^{(l)})^T are the Jacobian, right for
    any layer: they are checked at l = 2 too, and nothing is left out."""
    net = load_spec("classifier")
    for equation in (
        r"\frac{\partial E}{\partial z_j^{(l)}} = \sum_{i=1}^{n^{(l)}} "
        r"\frac{\partial a_i^{(l)}}{\partial z_j^{(l)}} \frac{\partial E}{\partial a_i^{(l)}}",
        r"\delta^{(l)} = \left(\frac{\partial a^{(l)}}{\partial z^{(l)}}\right)^{T} "
        r"\frac{\partial E}{\partial a^{(l)}}",
    ):
        verdict = holds(net, equation)
        assert "softmax" not in verdict.reason, verdict.reason
    # and the Jacobian at l = 2 is what a wrong claim meets there
    verdict = fails(
        net,
        r"\frac{\partial a_i^{(l)}}{\partial z_j^{(l)}} = a_i^{(l)}(a_j^{(l)} - \delta_{ij})",
    )
    assert verdict.instance is not None


def test_a_wrong_general_sigma_prime_rule_on_classifier_is_rejected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Leaving the softmax output out accepts nothing false at the hidden layers."""
    for equation in (
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_j^{(l-1)} \sigma'(z_k^{(l)}) "
        r"\frac{\partial E}{\partial a_k^{(l)}}",
        r"\frac{\partial E}{\partial b_j^{(l)}} = \sigma(z_j^{(l)}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
        r"\frac{\partial E}{\partial b_j^{(l)}} = 2 \frac{\partial a_j^{(l)}}{\partial z_j^{(l)}} "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
        r"\delta^{(l)} = \frac{\partial E}{\partial a^{(l)}} \odot \sigma'(z^{(l)}) "
        r"\odot \sigma'(z^{(l)})",
    ):
        status, out, _ = run_cli(["classifier", equation], capsys)
        assert status == 1, out
        assert re.match(r"does not hold at l=1, ", out), out
        assert "the derivation has: " in out and "\\sigma'" in out  # the hidden-layer rule


def test_a_wrong_general_rule_failing_at_the_softmax_output_quotes_its_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A rule for layer l without σ' is checked at the softmax output too; where it fails there,
    the hint is the output's rule through the Jacobian, not the hidden-layer rule."""
    equation = (
        r"\frac{\partial E}{\partial a_k^{(l-1)}} = \sum_{j=1}^{n^{(l)}} w_{jk}^{(l)} "
        r"(1 - (a_j^{(l)})^2) \frac{\partial E}{\partial a_j^{(l)}}"
    )  # tanh's σ' written out: true at l = 1, false at the softmax output
    status, out, _ = run_cli(["classifier", equation], capsys)
    assert status == 1
    first, *_ = out.splitlines()
    hint = next(line for line in out.splitlines() if line.startswith("  the derivation has: "))
    assert first.startswith("does not hold at l=2, ")
    assert hint.startswith("  the derivation has: \\frac{\\partial E}{\\partial a_{k}^{(L-1)}}")
    assert "\\sigma'" not in hint


SOFTMAX_ONLY = Network(
    name="softmax_only",
    inputs=3,
    layers=(Layer(3, activation("softmax")),),
    loss=loss("cross_entropy"),
)


def test_a_general_sigma_prime_rule_on_a_softmax_only_network_does_not_apply() -> None:
    """Its one layer l is the softmax output: the elementwise rule is checked nowhere, which is
    "does not apply" (never "holds"), in one line; the Jacobian form is checked and holds."""
    for equation in (LECTURE_INDEX[0], LECTURE_INDEX[4], ELEMENTWISE_DELTA):
        verdict = verify(SOFTMAX_ONLY, equation)
        assert not verdict.holds and not verdict.applies and verdict.checked == 0
        assert verdict.reason.startswith("does not apply: "), verdict.reason
        assert "softmax output l = 1" in verdict.reason and "\n" not in verdict.reason
    for equation in (
        r"\frac{\partial E}{\partial z_j^{(l)}} = \sum_{i=1}^{n^{(l)}} "
        r"\frac{\partial a_i^{(l)}}{\partial z_j^{(l)}} \frac{\partial E}{\partial a_i^{(l)}}",
        r"\delta^{(l)} = \sigma'(z^{(l)})^T \frac{\partial E}{\partial a^{(l)}}",
    ):
        assert holds(SOFTMAX_ONLY, equation).checked > 0
    verdict = fails(SOFTMAX_ONLY, r"\frac{\partial E}{\partial z_j^{(l)}} = a_j^{(l)} + y_j")
    assert verdict.correct is not None and "(L)" in verdict.correct


def test_cli_names_the_softmax_rule_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(["classifier", LECTURE_INDEX[4]], capsys)
    assert status == 0 and out.count("\n") == 1
    assert out.rstrip().endswith("not unit by unit: see (IL.d)"), out


def test_the_true_derivatives_agree_with_sympy() -> None:
    """The numeric truth (forward-mode Jacobians) against SymPy differentiating E written out."""
    net = MIXED
    point = Point(net, 7)
    _, _, energy = forward(net)
    leaf = leaves(net)
    values = {leaf[Act(0, k)]: point.a[0][k - 1, 0] for k in range(1, net.inputs + 1)}
    values.update({leaf[Target(j)]: point.y[j - 1, 0] for j in range(1, net.sizes[-1] + 1)})
    for m in range(1, net.depth + 1):
        for j in range(1, net.sizes[m] + 1):
            values[leaf[Bias(m, j)]] = point.b[m][j - 1, 0]
            for k in range(1, net.sizes[m - 1] + 1):
                values[leaf[Weight(m, j, k)]] = point.W[m][j - 1, k - 1]
    exact = {s: sympy.Float(v, 30) for s, v in values.items()}
    assert float(energy.xreplace(exact)) == pytest.approx(point.E, rel=1e-12)
    for m in range(1, net.depth + 1):
        gradient = point.jac(("E", 0), ("w", m)).reshape(point.W[m].shape)
        for j, k in [(1, 1), (net.sizes[m], net.sizes[m - 1])]:
            symbol = leaf[Weight(m, j, k)]
            others = {s: v for s, v in exact.items() if s != symbol}
            slope = sympy.diff(energy.xreplace(others), symbol).xreplace({symbol: exact[symbol]})
            assert gradient[j - 1, k - 1] == pytest.approx(float(slope), rel=1e-10, abs=1e-14)


def test_a_network_too_wide_to_check_is_refused() -> None:
    wide = Network(
        name="wide",
        inputs=200,
        layers=(Layer(200, activation("tanh")),),
        loss=loss("squared_error"),
    )
    with pytest.raises(SymbackpropError, match="too wide to check numerically"):
        verify(wide, LECTURE_INDEX[0])


# ---------------------------------------------------------------- classic mistakes

MISTAKES = {
    "dropped sigma'": (
        "multi_node",
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l-1)} \cdot "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
    ),
    "flipped sign": ("multi_node", r"\frac{\partial E}{\partial a_j^{(L)}} = 2(y_j - a_j^{(L)})"),
    "missing factor 2": (
        "seed_chain",
        r"\frac{\partial E}{\partial w^{(L)}} = (a^{(L)} - y) \cdot \sigma'(z^{(L)}) \cdot "
        r"a^{(L-1)}",
    ),
    "w_kj for w_jk": (
        "multi_node",
        r"\frac{\partial E}{\partial a_k^{(l-1)}} = \sum_{j=1}^{n^{(l)}} w_{kj}^{(l)} \cdot "
        r"\sigma'(z_j^{(l)}) \cdot \frac{\partial E}{\partial a_j^{(l)}}",
    ),
    "missing transpose": (
        "square",
        r"\delta^{(l)} = \left(W^{(l+1)} \delta^{(l+1)}\right) \odot \sigma'(z^{(l)})",
    ),
    "sigma' of a": (
        "mixed",
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l-1)} \cdot \sigma'(a_j^{(l)}) \cdot "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
    ),
    "off-by-one layer": (
        "multi_node",
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l)} \cdot \sigma'(z_j^{(l)}) \cdot "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_classic_mistakes_fail_with_a_counterexample(mistake: str) -> None:
    name, equation = MISTAKES[mistake]
    verdict = fails(network(name), equation)
    instance = verdict.instance
    assert instance is not None
    assert instance.left is not None and instance.right is not None
    assert abs(instance.left - instance.right) > 1e-6
    assert f"left {instance.left:.10g}, right {instance.right:.10g}" in verdict.reason
    assert 1 <= instance.point <= 3
    assert verdict.correct is not None


def test_the_counterexample_names_layer_and_units() -> None:
    verdict = fails(load_spec("multi_node"), MISTAKES["dropped sigma'"][1])
    assert verdict.instance is not None
    assert dict(verdict.instance.layers)["l"] in (1, 2)
    assert {name for name, _ in verdict.instance.indices} == {"j", "k"}
    assert re.match(
        r"does not hold at l=\d, j=\d, k=\d \(units numbered from 1; random point \d of 3\): "
        r"left -?\d",
        verdict.reason,
    )
    assert verdict.correct == (
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_{k}^{(l-1)} \cdot "
        r"\sigma'\left(z_{j}^{(l)}\right) \cdot \frac{\partial E}{\partial a_{j}^{(l)}}"
    )


def test_w_kj_is_diagnosed_by_its_indices() -> None:
    verdict = fails(load_spec("multi_node"), MISTAKES["w_kj for w_jk"][1])
    assert "the sum over j runs to n^{(l)}, but j numbers the units of layer l-1" in verdict.reason
    assert "w_{kj}^{(l)}" in verdict.reason


def test_a_missing_transpose_with_non_square_matrices_is_a_shape_error() -> None:
    verdict = fails(load_spec("multi_node"), MISTAKES["missing transpose"][1])
    assert "a product of a 2×3 and a 2×1 matrix is not defined" in verdict.reason


def test_the_lecture_concretely_slide() -> None:
    slide = (
        r"\frac{\partial E}{\partial a_j^{(l)}} = \sum_{j=1}^{n^{(l+1)}} w_{jk}^{(l+1)} \cdot "
        r"\sigma'(z_j^{(l+1)}) \cdot \frac{\partial E}{\partial a_j^{(l+1)}}"
    )
    verdict = fails(load_spec("multi_node"), slide)
    assert verdict.reason.startswith(
        "does not hold: index j is both free (left side) and summed (right side); "
        "index k is free on the right side only"
    )
    assert verdict.correct == (
        r"\frac{\partial E}{\partial a_{k}^{(l)}} = \sum_{j=1}^{n^{(l+1)}} w_{jk}^{(l+1)} \cdot "
        r"\sigma'\left(z_{j}^{(l+1)}\right) \cdot \frac{\partial E}{\partial a_{j}^{(l+1)}}"
    )
    fixed = slide.replace("a_j^{(l)}}", "a_k^{(l)}}", 1)
    holds(load_spec("multi_node"), fixed)


def test_a_chain_of_steps_names_the_step_that_fails() -> None:
    equation = (
        r"\frac{\partial E}{\partial b_j^{(L)}} &= \sigma'(z_j^{(L)}) \cdot "
        r"\frac{\partial E}{\partial a_j^{(L)}} \notag \\ &= \sigma'(z_j^{(L)}) (a_j^{(L)} - y_j)"
    )
    verdict = fails(load_spec("multi_node"), equation)
    assert verdict.reason.startswith("the second '=' does not hold at L=2, j=")
    assert verdict.instance is not None and verdict.instance.step == 2


def test_an_index_on_one_side_only() -> None:
    verdict = fails(load_spec("multi_node"), r"E = (a_j^{(L)} - y_j)^2")
    assert verdict.reason.startswith("does not hold: index j is free on the right side only")


def test_a_sum_over_the_wrong_width() -> None:
    verdict = fails(
        load_spec("multi_node"),
        r"\frac{\partial E}{\partial a_k^{(l-1)}} = \sum_{j=1}^{n^{(l-1)}} w_{jk}^{(l)} "
        r"\sigma'(z_j^{(l)}) \frac{\partial E}{\partial a_j^{(l)}}",
    )
    assert "the sum over j runs to n^{(l-1)}, but j numbers the units of layer l" in verdict.reason


def test_non_numbers_never_agree() -> None:
    fails(load_spec("seed_chain"), r"E = (a^{(L)} - y)^2 + \frac{1}{0}")
    fails(load_spec("seed_chain"), r"E = 2^{100000}")


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l-1)} \cdot \sigma'(z_j^{(l)}",
            78,
            "a bracket is not closed",
        ),
        (r"E = (a^{(L)} - y))^2", 17, "unbalanced ')'"),
        (r"E = q^{(l)}", 4, "unknown symbol 'q'"),
        (r"a_k^{(m)} = 1", 5, "a layer is a number"),
        (r"E", 1, "an equation needs '='"),
        (r"\frac{\partial E}{\partial w_jk^{(l)}} = 1", 27, "w takes two unit indices"),
        (r"E = \foo{x}", 4, "unknown command \\foo"),
    ],
)
def test_unreadable_input_names_the_position(text: str, column: int, message: str) -> None:
    with pytest.raises(LatexError) as caught:
        verify(load_spec("multi_node"), text)
    err = caught.value
    assert message in err.message
    assert err.column == column
    assert err.caret().splitlines()[1] == " " * column + "^"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = verify_module.main(["verify", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_malformed_latex_is_exit_2_with_a_caret(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(["multi_node", r"E = (a^{(L)} - y)^{2"], capsys)
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("symbackprop: error: equation: line 1, column 21:")
    assert lines[1] == r"  E = (a^{(L)} - y)^{2"
    assert lines[2] == "  " + " " * 20 + "^"


def test_cli_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(["seed_chain", LECTURE_CHAIN[0]], capsys)
    assert status == 0 and out.startswith("holds")
    status, out, _ = run_cli(["seed_chain", MISTAKES["missing factor 2"][1]], capsys)
    assert status == 1
    assert out.startswith("does not hold at L=3")
    assert "the derivation has: \\frac{\\partial E}{\\partial w^{(L)}} = " in out


def test_cli_bad_spec_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["no_such_spec", "E = 1"], capsys)
    assert status == 2
    assert err.startswith("symbackprop: error: no_such_spec: no such file")


@pytest.mark.parametrize(
    "text", [r"\input{/etc/passwd}", r"E = \write18{touch PWNED}", r"\immediate\write18{ls}"]
)
def test_injection_is_just_unreadable(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(["multi_node", text], capsys)
    assert status == 2
    assert "unknown command" in err
    assert "root:" not in out + err
    assert list(tmp_path.iterdir()) == []


SNIPPET = r"""% a hand derivation
\begin{align}
\frac{\partial E}{\partial w_{jk}^{(l)}} &= a_k^{(l-1)} \sigma'(z_j^{(l)})
    \frac{\partial E}{\partial a_j^{(l)}} \\
\frac{\partial E}{\partial a_j^{(L)}} &= 2(a_j^{(L)} - y_j) \notag \\
\frac{\partial E}{\partial b_j^{(L)}} &= \sigma'(z_j^{(L)}) \notag \\
  &= \sigma'(z_j^{(L)}) \cdot 2(a_j^{(L)} - y_j) \tag{b}
\end{align}
E = \sum_{j=1}^{n^{(L)}} (a_j^{(L)} - y_j)^2
"""


def test_split_equations_joins_continued_rows() -> None:
    spans = split_equations(SNIPPET)
    pieces = [SNIPPET[a:b] for a, b in spans]
    assert len(pieces) == 4
    assert pieces[0].endswith(r"\frac{\partial E}{\partial a_j^{(l)}}")  # a wrapped line joins
    assert pieces[2].startswith(r"\frac{\partial E}{\partial b_j^{(L)}}")
    assert pieces[2].endswith(r"\tag{b}")


def test_cli_file_with_several_equations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.tex"
    path.write_text(SNIPPET, encoding="utf-8")
    status, out, _ = run_cli(["multi_node", "--file", str(path)], capsys)
    assert status == 1
    *lines, total = [x for x in out.splitlines() if not x.startswith("  ")]
    assert re.fullmatch(r"\d+ of \d+ steps hold; the first that breaks is step 1 of line 6", total)
    assert [x.split(": ", 1)[0].rsplit(":", 1)[1] for x in lines] == ["3", "5", "6", "9"]
    assert lines[0].endswith(("1e-09", "identity"))
    assert "the first '=' does not hold" in lines[2]
    assert "holds" in lines[3]
    good = SNIPPET.replace(
        r"&= \sigma'(z_j^{(L)}) \notag",
        r"&= \sigma'(z_j^{(L)}) \frac{\partial E}{\partial a_j^{(L)}} \notag",
    )
    path.write_text(good, encoding="utf-8")
    status, _, _ = run_cli(["multi_node", "--file", str(path)], capsys)
    assert status == 0


def test_cli_file_with_an_unreadable_equation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.tex"
    path.write_text(SNIPPET + "E = (a_j^{(L)} - y_j\n", encoding="utf-8")
    status, out, err = run_cli(["multi_node", "--file", str(path)], capsys)
    assert status == 2
    assert "mine.tex:9: holds" in out
    assert "mine.tex: line 10, column 21: a bracket is not closed" in err


def test_cli_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("E = (a^{(L)} - y)^2\n"))
    status, out, _ = run_cli(["seed_chain", "-"], capsys)
    assert status == 0 and out.startswith("holds")
    monkeypatch.setattr("sys.stdin", io.StringIO("E = (a^{(L)} + y)^2\n"))
    status, _, _ = run_cli(["seed_chain", "-"], capsys)
    assert status == 1


def test_cli_needs_an_equation(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["seed_chain"], capsys)
    assert status == 2
    assert "give one EQUATION" in err


# ---------------------------------------------------------------- issue 12: nothing checked


def test_an_equation_checked_nowhere_does_not_apply(capsys: pytest.CaptureFixture[str]) -> None:
    """single_neuron has one layer: no l has a layer l+1, so nothing is checked; that is one
    line saying why, exit 1, and never "holds" (the formula is wrong besides: a for σ')."""
    equation = r"\delta^{(l)} = ((W^{(l+1)})^T \delta^{(l+1)}) \odot a^{(l)}"
    status, out, err = run_cli(["single_neuron", equation], capsys)
    assert (status, err) == (1, "")
    assert out == (
        "does not apply: no layer l of this network (L = 1) has every quantity of it: "
        "\\delta^{(l)} needs l ≥ 1 and W^{(l+1)} needs l ≤ 0\n"
    )
    verdict = verify(load_spec("single_neuron"), equation)
    assert not verdict.holds and not verdict.applies and verdict.checked == 0
    status, out, _ = run_cli(["multi_node", r"\delta^{(3)} = a^{(3)} - y"], capsys)
    assert status == 1
    assert out.startswith("does not apply: \\delta^{(3)} does not exist") and out.count("\n") == 1


SOFTMAX_ELEMENTWISE = [
    r"\delta^{(L)} = (a^{(L)} - y) \odot \sigma'(z^{(L)})",
    r"\delta^{(L)} = \frac{\partial E}{\partial a^{(L)}} \odot \sigma'(z^{(L)})",
    r"\frac{\partial E}{\partial z_j^{(L)}} = (a_j^{(L)} - y_j) \sigma'(z_j^{(L)})",
    r"\frac{\partial a_j^{(L)}}{\partial z_j^{(L)}} = a_j^{(L)}(1 + a_j^{(L)})",
]


@pytest.mark.parametrize("layer", ["L", "2"])
@pytest.mark.parametrize("equation", SOFTMAX_ELEMENTWISE)
def test_softmax_treated_elementwise_is_rejected_with_a_counterexample(
    equation: str, layer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's cases, written with L or with 2 alike: σ' and ∂a_j/∂z_j of the softmax
    output are its Jacobian('s entries), so the elementwise claims meet numbers that differ."""
    equation = equation.replace("(L)", f"({layer})")
    status, out, _ = run_cli(["classifier", equation], capsys)
    assert status == 1
    assert re.match(r"does not hold at (L=2, )?(j|entry)=\d .*: left -?\d.*, right -?\d", out)
    verdict = fails(load_spec("classifier"), equation)
    assert verdict.instance is not None and verdict.instance.left is not None


@pytest.mark.parametrize("layer", ["L", "2"])
def test_the_softmax_cross_entropy_delta_holds(
    layer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for equation in (
        r"\delta^{(L)} = a^{(L)} - y",
        r"\frac{\partial E}{\partial z_j^{(L)}} = a_j^{(L)} - y_j",
        r"\frac{\partial a_j^{(L)}}{\partial z_j^{(L)}} = a_j^{(L)}(1 - a_j^{(L)})",
        r"\delta^{(L)} = \sigma'(z^{(L)})^T \frac{\partial E}{\partial a^{(L)}}",
        r"a^{(L)} = \sigma(z^{(L)})",
    ):
        status, out, _ = run_cli(["classifier", equation.replace("(L)", f"({layer})")], capsys)
        assert status == 0 and out.startswith("holds: checked"), out


def test_the_package_reaches_verify_without_importing_it_first() -> None:
    """`import symbackprop; symbackprop.verify.verify(...)` works, and only that first use loads
    lark (the package imports its subpackages on first access)."""
    code = (
        "import sys, symbackprop\n"
        "assert 'lark' not in sys.modules\n"
        "net = symbackprop.load_spec('seed_chain')\n"
        "verdict = symbackprop.verify.verify(net, 'E = (a^{(L)} - y)^2')\n"
        "assert verdict.holds and 'lark' in sys.modules, verdict\n"
        "assert symbackprop.verify.run\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- the notation of the textbooks

P = "'"
#: (network, textbook form, the lecture's form of the same equation, a wrong textbook form).
#: The lecture's form holds (checked below), so the textbook form must hold too; the wrong one,
#: written in the same textbook notation with the mistake made by hand, must not.
TEXTBOOK = [
    (
        "xor",
        rf"\delta^{{(1)}} = ((W^{{(2)}})^\mathsf{{T}} \delta^{{(2)}}) \circ \sigma{P}(z^{{(1)}})",
        rf"\delta^{{(1)}} = ((W^{{(2)}})^T \delta^{{(2)}}) \odot \sigma{P}(z^{{(1)}})",
        rf"\delta^{{(1)}} = (W^{{(2)}} \delta^{{(2)}}) \circ \sigma{P}(z^{{(1)}})",
    ),
    (
        "xor",
        rf"\delta^{{1}} = ((W^{{2}})^\intercal \delta^{{2}}) \odot \sigma{P}(z^{{1}})",
        rf"\delta^{{(1)}} = ((W^{{(2)}})^T \delta^{{(2)}}) \odot \sigma{P}(z^{{(1)}})",
        rf"\delta^{{1}} = ((W^{{2}})^\intercal \delta^{{2}}) \odot \sigma{P}(z^{{2}})",
    ),
    (
        "xor",
        rf"\delta^l = ((W^{{l+1}})^\top \delta^{{l+1}}) \odot \sigma{P}(z^l)",
        rf"\delta^{{(l)}} = ((W^{{(l+1)}})^T \delta^{{(l+1)}}) \odot \sigma{P}(z^{{(l)}})",
        rf"\delta^l = (W^{{l+1}} \delta^{{l+1}}) \odot \sigma{P}(z^l)",
    ),
    (
        "multi_node",
        r"{\partial E \over \partial w^l_{jk}} = a^{l-1}_k \delta^l_j",
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l-1)} \delta_j^{(l)}",
        r"{\partial E \over \partial w^l_{jk}} = a^{l}_k \delta^l_j",
    ),
    (
        "multi_node",
        r"\frac{\partial E}{\partial b_j^l} = \delta_j^l",
        r"\frac{\partial E}{\partial b_j^{(l)}} = \delta_j^{(l)}",
        r"\frac{\partial E}{\partial b_j^l} = \delta_j^{l} a_j^{l}",
    ),
    (
        "multi_node",
        r"\nabla_a E = 2(a^L - y)",
        r"\frac{\partial E}{\partial a^{(L)}} = 2(a^{(L)} - y)",
        r"\nabla_a E = a^L - y",
    ),
    (
        "multi_node",
        r"\frac{\mathrm{d} E}{\mathrm{d} a_j^{(L)}} = 2(a_j^{(L)} - y_j)",
        r"\frac{\partial E}{\partial a_j^{(L)}} = 2(a_j^{(L)} - y_j)",
        r"\frac{\mathrm{d} E}{\mathrm{d} a_j^{(L)}} = \tfrac{1}{2}(a_j^{(L)} - y_j)",
    ),
    (
        "multi_node",
        r"\frac{dE}{da_j^{(L)}} = 2(a_j^{(L)} - y_j)",
        r"\frac{\partial E}{\partial a_j^{(L)}} = 2(a_j^{(L)} - y_j)",
        r"dE/da_j^{(L)} = a_j^{(L)} - y_j",
    ),
    (
        "xor",
        r"a_j^{(1)} = \operatorname{tanh}(z_j^{(1)})",
        r"a_j^{(1)} = \tanh(z_j^{(1)})",
        r"a_j^{(1)} = \operatorname{tanh}(a_j^{(1)})",
    ),
    (
        "xor",
        r"\max(z_1^{(1)}, 0) = \tfrac{1}{2}(z_1^{(1)} + |z_1^{(1)}|)",
        r"\max(z_1^{(1)}, 0) = \frac{1}{2}(z_1^{(1)} + \left|z_1^{(1)}\right|)",
        r"\min(z_1^{(1)}, 0) = \tfrac{1}{2}(z_1^{(1)} + |z_1^{(1)}|)",
    ),
    (
        "xor",
        r"|a_1^{(1)}| |a_2^{(1)}| = \left| a_1^{(1)} a_2^{(1)} \right|",
        r"\left|a_1^{(1)}\right| \left|a_2^{(1)}\right| = \left|a_1^{(1)} a_2^{(1)}\right|",
        r"|a_1^{(1)}| - |a_2^{(1)}| = \left| a_1^{(1)} - a_2^{(1)} \right|",
    ),
]


@pytest.mark.parametrize(("name", "textbook", "lecture", "wrong"), TEXTBOOK)
def test_textbook_notation_reads_as_a_person_would(
    name: str, textbook: str, lecture: str, wrong: str
) -> None:
    net = load_spec(name)
    holds(net, lecture)
    holds(net, textbook)
    fails(net, wrong)


def test_absolute_value_bars_pair_as_written() -> None:
    """|x| - |y| is two bars pairs, not |x| - |y| read as one: at a point where |x - y| and
    |x| - |y| differ it does not hold, and (|x| + |y|)^2 = |x|^2 + 2|x||y| + |y|^2 does."""
    net = load_spec("xor")
    holds(
        net,
        r"(|a_1^{(1)}| + |a_2^{(1)}|)^2 = |a_1^{(1)}|^2 + 2 |a_1^{(1)}| |a_2^{(1)}| "
        r"+ |a_2^{(1)}|^2",
    )


def test_a_network_with_abs_max_and_min_reads_back(tmp_path: Path) -> None:
    spec = tmp_path / "kinks.toml"
    spec.write_text(
        'name = "kinks"\ninputs = 2\n'
        '[[layers]]\nunits = 2\nactivation = { name = "softsign", expr = "z / (1 + abs(z))" }\n'
        "[[layers]]\nunits = 1\n"
        'activation = { name = "clip", expr = "max(min(z, 1), -1) + 0.1*z" }\n'
        '[loss]\nname = "squared_error"\n'
    )
    net = load_spec(str(spec))
    document = render(derive(net), "latex")
    assert "\\left|" in document and "\\max" in document
    check_document_of(net, document)


def check_document_of(net: Network, document: str) -> None:
    results = verify_text(net, document)
    assert results
    for _, result in results:
        assert isinstance(result, Verdict), result
        assert result.holds or not result.applies, result.reason


def test_a_pathological_equation_ends_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("symbackprop.verify.judge.TIME_LIMIT", 0.5)
    nested = r"E = \sum_{i=1}^{9000} \sum_{j=1}^{9000} \sum_{k=1}^{9000} a_1^{(1)}"  # 7e11 terms
    status = verify_module.main(["verify", "xor", nested])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.count("\n") == 1 and "takes too long" in err


# ---------------------------------------------------------------- whole derivations

#: The lecture's derivation of ∂E/∂w_jk with σ' dropped at step 3 (by hand: ∂E/∂z_j is
#: σ'(z_j) ∂E/∂a_j, so step 3 is wrong and does not follow from step 2, which is right), and
#: step 4 right again.  Then ∂E/∂a_j written without its 2 (squared error): one more wrong step.
DERIVATION = (
    "\\begin{align*}\n"
    r"\frac{\partial E}{\partial w_{jk}^{(l)}} &= \frac{\partial z_j^{(l)}}{\partial w_{jk}^{(l)}}"
    r" \frac{\partial E}{\partial z_j^{(l)}} \\"
    "\n"
    r"&= a_k^{(l-1)} \frac{\partial E}{\partial z_j^{(l)}} \\"
    "\n"
    r"&= a_k^{(l-1)} \frac{\partial E}{\partial a_j^{(l)}} \\"
    "\n"
    r"&= a_k^{(l-1)} \sigma'(z_j^{(l)}) \frac{\partial E}{\partial a_j^{(l)}}"
    "\n"
    "\\end{align*}\n"
    r"\frac{\partial E}{\partial a_j^{(L)}} = a_j^{(L)} - y_j"
    "\n"
)


def test_a_derivation_is_judged_step_by_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "derivation.tex"
    path.write_text(DERIVATION)
    status, out, _ = run_cli(["multi_node", "--file", str(path)], capsys)
    assert status == 1
    lines = out.splitlines()
    assert "  step 1: holds" in lines and "  step 2: holds" in lines
    assert "  step 3: does not follow from step 2, though step 2 was right" in lines
    assert "  step 4: holds (it does not follow from step 3, which was wrong)" in lines
    assert "    mistake: the factor \\sigma'(z_{j}^{(l)}) is missing" in lines
    assert lines[-1] == "3 of 5 steps hold; the first that breaks is step 3 of line 2"


def test_a_wrong_step_carried_on_is_told_apart() -> None:
    session = verify_module.judge.Session(load_spec("multi_node"), 0, 3, 1e-9)
    chain = (
        r"\frac{\partial E}{\partial a_j^{(L)}} = a_j^{(L)} - y_j = "
        r"\frac{1}{2}(2 a_j^{(L)} - 2 y_j)"
    )
    steps = verify_module.steps.judge_steps(session, chain)
    assert [(s.right, s.follows) for s in steps] == [(False, False), (False, True)]
    assert steps[1].verdict == "follows from step 1, but step 1 was already wrong"
    assert steps[0].diagnosis is not None and steps[0].diagnosis.kind == "constant factor"


def test_json_report_for_grading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = tmp_path / "derivation.tex"
    path.write_text(DERIVATION)
    status, out, _ = run_cli(["multi_node", "--file", str(path), "--json"], capsys)
    assert status == 1
    report = json.loads(out)
    assert report["schema"] == "symbackprop-verify/1"
    assert (report["steps"], report["steps_hold"]) == (5, 3)
    assert report["score"] == pytest.approx(0.6)
    assert report["first_break"] == {"line": 2, "step": 3}
    first, second = report["equations"]
    assert [s["right"] for s in first["steps"]] == [True, True, False, True]
    assert first["steps"][2]["diagnosis"]["kind"] == "missing sigma'"
    assert second["diagnosis"]["kind"] == "constant factor" and second["steps"] == []
