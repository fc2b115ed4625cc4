"""Regularisation (`regularization = { l2 = ..., l1 = ... }`): the spec's checks, the printed
term, and the generated module's loss, gradients and sgd_step against JAX, finite differences
and a step taken by hand with gradients()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop import SpecError, derive, generate, load_spec
from symbackprop.render import render

HEADER = 'name = "{name}"\ninputs = 3\nloss = "{loss}"\n'
LAYERS = (
    '\n[[layers]]\nunits = 4\nactivation = "tanh"\n{own}\n'
    '[[layers]]\nunits = 2\nactivation = "{out}"\n'
)
CASES = {
    "l2": ("regularization = { l2 = 0.01 }", "", "sigmoid", "squared_error"),
    "l1": ("regularization = { l1 = 0.02 }", "", "sigmoid", "binary_cross_entropy"),
    "both_softmax": (
        "regularization = { l1 = 0.005, l2 = 0.03 }",
        "",
        "softmax",
        "cross_entropy",
    ),
    "per_layer": (
        "regularization = { l2 = 0.01 }",
        "regularization = { l2 = 0.2, l1 = 0.01 }",
        "sigmoid",
        "squared_error",
    ),
    "biases": (
        "regularization = { l1 = 0.01, l2 = 0.05, biases = true }",
        "",
        "softmax",
        "cross_entropy",
    ),
    "biases_not_first": (
        "regularization = { l2 = 0.05, biases = true }",
        "regularization = { l2 = 0.1, biases = false }",
        "sigmoid",
        "binary_cross_entropy",
    ),
}


def _params(module, seed: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """init_params, the biases moved off 0: |b| has no derivative there (JAX takes 1, we 0)."""
    params = module.init_params(seed=seed)
    for key in params:
        if key.startswith("b"):
            params[key] += np.linspace(-0.2, 0.3, params[key].size)
    return params


def _spec(case: str) -> str:
    top, own, out, loss_name = CASES[case]
    return HEADER.format(name=case, loss=loss_name) + top + "\n" + LAYERS.format(own=own, out=out)


def _data(case: str, n: int = 6, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if CASES[case][2] == "softmax":
        Y = np.eye(2)[rng.integers(0, 2, n)]
    else:
        Y = rng.uniform(0.1, 0.9, (n, 2))
    return X, Y


def _strengths(case: str) -> list[tuple[float, float]]:
    """(l1, l2) of layers 1 and 2, written out by hand from CASES."""
    return {
        "l2": [(0.0, 0.01), (0.0, 0.01)],
        "l1": [(0.02, 0.0), (0.02, 0.0)],
        "both_softmax": [(0.005, 0.03), (0.005, 0.03)],
        "per_layer": [(0.01, 0.2), (0.0, 0.01)],
        "biases": [(0.01, 0.05), (0.01, 0.05)],
        "biases_not_first": [(0.0, 0.1), (0.0, 0.05)],
    }[case]


#: The layers whose biases are penalised too, by hand from CASES.
BIASED = {"biases": (1, 2), "biases_not_first": (2,)}


def _jax_objective(case: str):  # type: ignore[no-untyped-def]
    """The batch mean of the loss plus Σ_l (l2 Σ w² + l1 Σ |w|), written in JAX by hand."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    out, loss_name = CASES[case][2], CASES[case][3]

    def objective(p, X, Y):  # type: ignore[no-untyped-def]
        a1 = jnp.tanh(X @ p["W1"].T + p["b1"])
        z2 = a1 @ p["W2"].T + p["b2"]
        a2 = jax.nn.softmax(z2, axis=1) if out == "softmax" else jax.nn.sigmoid(z2)
        if loss_name == "squared_error":
            per = jnp.sum((a2 - Y) ** 2, axis=1)
        elif loss_name == "binary_cross_entropy":
            per = -jnp.sum(Y * jnp.log(a2) + (1 - Y) * jnp.log(1 - a2), axis=1)
        else:
            per = -jnp.sum(Y * jnp.log(a2), axis=1)
        penalty = 0.0
        for number, (l1, l2) in enumerate(_strengths(case), start=1):
            names = ["W", "b"] if number in BIASED.get(case, ()) else ["W"]
            for array in (p[f"{name}{number}"] for name in names):
                penalty = penalty + l2 * jnp.sum(array**2) + l1 * jnp.sum(jnp.abs(array))
        return jnp.mean(per) + penalty

    return jax, objective


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_loss_and_gradients_match_jax(case: str) -> None:
    jax, objective = _jax_objective(case)
    module = generate(load_spec(_spec(case))).load()
    params = _params(module, seed=1)
    X, Y = _data(case)
    want_loss = float(objective(params, X, Y))
    want = jax.grad(objective)(params, X, Y)
    assert module.loss(params, X, Y) == pytest.approx(want_loss, rel=1e-12)
    got = module.gradients(params, X, Y)
    for key in params:
        np.testing.assert_allclose(got[key], np.asarray(want[key]), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_finite_differences_of_loss(case: str) -> None:
    module = generate(load_spec(_spec(case))).load()
    params = _params(module, seed=2)
    X, Y = _data(case, seed=5)
    got = module.gradients(params, X, Y)
    eps = 1e-6
    for key, value in params.items():
        for index in np.ndindex(value.shape):
            old = value[index]
            value[index] = old + eps
            up = module.loss(params, X, Y)
            value[index] = old - eps
            down = module.loss(params, X, Y)
            value[index] = old
            assert got[key][index] == pytest.approx((up - down) / (2 * eps), abs=1e-7)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch", [1, 5])
def test_sgd_step_is_a_step_with_gradients(case: str, batch: int) -> None:
    module = generate(load_spec(_spec(case))).load()
    params = _params(module, seed=4)
    X, Y = _data(case, n=batch, seed=7)
    lr = 0.3
    by_hand = {key: value - lr * g for (key, value), g in zip(
        params.items(), module.gradients(params, X, Y).values(), strict=True
    )}  # fmt: skip
    before = module.loss(params, X, Y)
    value = module.sgd_step(params, X, Y, lr)
    assert value == pytest.approx(before, rel=1e-13)
    for key in params:
        np.testing.assert_allclose(params[key], by_hand[key], rtol=1e-12, atol=1e-15)


def test_the_penalty_shrinks_weights_without_data() -> None:
    """Where the data's gradient is 0 (input 0, target 0, zero bias), an L2 step multiplies
    the weight by 1 - 2 lr λ, and the loss is λ w² alone."""
    text = (
        'name = "decay"\ninputs = 1\nloss = "half_squared_error"\n'
        "regularization = { l2 = 0.25 }\n"
        '[[layers]]\nunits = 1\nactivation = "identity"\n'
    )
    module = generate(load_spec(text)).load()
    params = {"W1": np.array([[2.0]]), "b1": np.array([0.0])}
    X, Y = np.array([[0.0]]), np.array([[0.0]])  # the data's gradient is 0 here
    module.sgd_step(params, X, Y, 0.1)
    assert params["W1"][0, 0] == pytest.approx(2.0 * (1 - 2 * 0.1 * 0.25))
    assert module.loss(params, X, Y) == pytest.approx(0.25 * params["W1"][0, 0] ** 2)


def test_derivation_prints_the_term_in_every_view() -> None:
    derivation = derive(load_spec(_spec("l2")))
    text = render(derivation, "text")
    assert (
        "∂E/∂w_jk^(2) = ∂E/∂a_j^(2) · ∂a_j^(2)/∂z_j^(2) · ∂z_j^(2)/∂w_jk^(2) + 2 λ w_jk^(2)" in text
    )
    assert "∂E/∂W^(1) = δ^(1) (a^(0))ᵀ + 2 λ W^(1)" in text
    assert "0.01 (w_jk^(1))^2" in text  # E states λ's value
    latex = render(derivation, "latex")
    assert r"+ 2 \lambda w_{jk}^{(2)}" in latex
    per_layer = render(derive(load_spec(_spec("per_layer"))), "text")
    assert "+ λ₁^(1) sign(W^(1)) + 2 λ^(1) W^(1)" in per_layer
    assert "λ₁^(2)" not in per_layer  # layer 2 has no L1 term


def test_unregularised_networks_are_unchanged() -> None:
    plain = load_spec("xor")
    assert not plain.regularized
    assert "λ" not in render(derive(plain), "text")
    assert "_penalty" not in generate(plain).source


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("regularization = { l2 = -1 }", "regularization.l2: must be between 0 and 1000, got -1"),
        ("regularization = { l2 = 'a' }", "regularization.l2: must be a number, got a string"),
        ("regularization = { l3 = 1 }", "regularization: unknown field 'l3'"),
        ("regularization = { l1 = nan }", "regularization.l1: must be between 0 and 1000"),
        ("regularization = 0.1", "regularization: expected a table such as { l2 = 1e-4 }"),
        ("regularization = { biases = 1 }", "regularization.biases: must be true or false"),
    ],
)
def test_bad_values_are_one_line_naming_the_field(table: str, message: str) -> None:
    text = HEADER.format(name="bad", loss="squared_error") + table + "\n"
    text += LAYERS.format(own="", out="sigmoid")
    with pytest.raises(SpecError) as info:
        load_spec(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_layer_value_names_the_layer(tmp_path: Path) -> None:
    text = HEADER.format(name="bad", loss="squared_error")
    text += LAYERS.format(own="regularization = { l1 = true }", out="sigmoid")
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "derive", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"symbackprop: error: {spec}: layers[0].regularization.l1 (layer 1): must be a number,"
        " got a boolean (true)"
    ]


def test_l2_is_pytorchs_weight_decay_with_lambda_half_of_it() -> None:
    """Five sgd_step updates with l2 = λ equal torch.optim.SGD with weight_decay = 2 λ on the
    weights (none on the biases), from the same start on the same batch, in float64."""
    torch = pytest.importorskip("torch")
    case = "l2"
    module = generate(load_spec(_spec(case))).load()
    params = module.init_params(seed=6)
    X, Y = _data(case, n=8, seed=9)
    tensors = {key: torch.tensor(value.copy(), requires_grad=True) for key, value in params.items()}
    groups = [
        {"params": [tensors["W1"], tensors["W2"]], "weight_decay": 2 * 0.01},
        {"params": [tensors["b1"], tensors["b2"]], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.SGD(groups, lr=0.4)
    x, y = torch.tensor(X), torch.tensor(Y)
    for _ in range(5):
        module.sgd_step(params, X, Y, 0.4)
        optimizer.zero_grad()
        a1 = torch.tanh(x @ tensors["W1"].T + tensors["b1"])
        a2 = torch.sigmoid(a1 @ tensors["W2"].T + tensors["b2"])
        torch.mean(torch.sum((a2 - y) ** 2, dim=1)).backward()  # the data's loss alone
        optimizer.step()
    for key, value in params.items():
        np.testing.assert_allclose(value, tensors[key].detach().numpy(), rtol=1e-12, atol=1e-15)


def test_biases_true_is_pytorchs_weight_decay_on_every_parameter() -> None:
    """With `biases = true`, five sgd_step updates equal torch.optim.SGD with weight_decay = 2 λ
    on every parameter, biases included, in float64."""
    torch = pytest.importorskip("torch")
    text = _spec("l2").replace("l2 = 0.01 }", "l2 = 0.01, biases = true }")
    module = generate(load_spec(text)).load()
    params = module.init_params(seed=6)
    params["b1"] += 0.3  # biases of 0 would hide a missing bias penalty
    X, Y = _data("l2", n=8, seed=9)
    tensors = {key: torch.tensor(value.copy(), requires_grad=True) for key, value in params.items()}
    optimizer = torch.optim.SGD(list(tensors.values()), lr=0.4, weight_decay=2 * 0.01)
    x, y = torch.tensor(X), torch.tensor(Y)
    for _ in range(5):
        module.sgd_step(params, X, Y, 0.4)
        optimizer.zero_grad()
        a1 = torch.tanh(x @ tensors["W1"].T + tensors["b1"])
        a2 = torch.sigmoid(a1 @ tensors["W2"].T + tensors["b2"])
        torch.mean(torch.sum((a2 - y) ** 2, dim=1)).backward()
        optimizer.step()
    for key, value in params.items():
        np.testing.assert_allclose(value, tensors[key].detach().numpy(), rtol=1e-12, atol=1e-15)


def test_biases_term_is_printed_only_where_asked() -> None:
    text = render(derive(load_spec(_spec("biases_not_first"))), "text")
    assert "∂E/∂b^(2) = δ^(2) + 2 λ^(2) b^(2)" in text
    assert "∂E/∂b^(1) = δ^(1)\n" in text  # layer 1 says biases = false
    assert "b_j^(1))^2" not in text  # R holds layer 2's biases only
    assert "(b_j^(2))^2" in text


@pytest.mark.parametrize("case", ["l1", "per_layer", "biases", "biases_not_first"])
def test_self_check_differentiates_the_penalty_too(case: str) -> None:
    """--self-check writes E out with R and differentiates it directly: every parameter
    agrees; without R in the layered equations it would not (the L1 and L2 terms are not 0)."""
    from symbackprop.selfcheck import self_check

    results = self_check(derive(load_spec(_spec(case).replace("units = 4", "units = 2"))))
    assert results and all(r.ok for r in results)


_DW1 = r"\frac{\partial E}{\partial W^{(1)}} = \delta^{(1)} (a^{(0)})^T"
_DW2 = r"\frac{\partial E}{\partial w_{jk}^{(2)}} = \delta_j^{(2)} a_k^{(1)}"


def _verify(tmp_path: Path, case: str, equation: str) -> subprocess.CompletedProcess[str]:
    """`symbackprop verify` of one equation on the spec of `case`, as a user runs it."""
    spec = tmp_path / f"{case}.toml"
    spec.write_text(_spec(case))
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", "verify", str(spec), equation],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("equation", "holds"),
    [
        (_DW2, False),
        (_DW2 + r" + \lambda w_{jk}^{(2)}", False),
        (_DW2 + r" + 2\lambda w_{jk}^{(2)}", True),
        (_DW1 + r" + 2 \lambda W^{(1)}", True),
        (r"\frac{\partial E}{\partial b_j^{(1)}} = \delta_j^{(1)}", True),
    ],
)  # fmt: skip
def test_verify_judges_with_the_penalty(tmp_path: Path, equation: str, holds: bool) -> None:
    done = _verify(tmp_path, "l2", equation)
    assert done.returncode == (0 if holds else 1), done.stdout + done.stderr
    assert done.stdout.startswith("holds" if holds else "does not hold")


_DB2 = r"\frac{\partial E}{\partial b_j^{(2)}} = \delta_j^{(2)}"


@pytest.mark.parametrize(
    ("equation", "holds"),
    [
        (_DB2, False),
        (_DB2 + r" + 2\lambda^{(2)} b_j^{(2)}", True),
        (r"\frac{\partial E}{\partial b_j^{(1)}} = \delta_j^{(1)}", True),
    ],
)  # fmt: skip
def test_verify_judges_a_bias_penalty(tmp_path: Path, equation: str, holds: bool) -> None:
    done = _verify(tmp_path, "biases_not_first", equation)
    assert done.returncode == (0 if holds else 1), done.stdout + done.stderr


def test_every_printed_latex_step_reads_back_through_verify(tmp_path: Path) -> None:
    spec, tex = tmp_path / "both.toml", tmp_path / "both.tex"
    spec.write_text(_spec("per_layer"))
    tex.write_text(render(derive(load_spec(spec)), "latex"))
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "verify", str(spec), "--file", str(tex)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert done.stdout.splitlines()[-1].endswith("steps hold")
    assert " of " in done.stdout.splitlines()[-1]


@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_regularised_documents_compile(tmp_path: Path, fmt: str) -> None:
    """λ, λ₁, λ^(l), sign and the nested sums of R are LaTeX that pdflatex accepts."""
    import shutil

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    tex = tmp_path / "doc.tex"
    tex.write_text(render(derive(load_spec(_spec("per_layer"))), fmt))
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
