"""`symbackprop predict`: the outputs of a spec's network, with parameters saved by `train
--save`, on new data; with targets in the data, the loss and accuracy (or errors) as well."""

from __future__ import annotations

import argparse

from ..arguments import paragraph
from .exits import EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "predict (and evaluate) on new data with parameters saved by train --save"


def register(commands: Commands) -> None:
    """Add `predict` to the command line."""
    description = (
        "Run the network of SPEC with the parameters in PARAMS (an .npz written by `train "
        "--save`) on DATA, read as `train` reads it but with the target columns optional (an "
        "NPZ with X alone, or a CSV of the input columns alone). Writes the outputs a^(L), one "
        "row per sample, to -o as CSV (a header y1, y2, ...) or NPZ (array Y), atomically; "
        "without -o prints them as CSV. When DATA has targets it also prints the loss (the "
        "mean of E, the regularisation term included) and the accuracy or errors, as `train` "
        "does, on stderr when the outputs go to stdout."
    )
    parser = commands.add_parser(
        "predict",
        help=HELP,
        description=paragraph(description),
        epilog="Examples:\n"
        "  symbackprop train classifier --data two_class --epochs 300 --save params.npz\n"
        "  symbackprop predict classifier --params params.npz --data two_class -o out.csv\n"
        "  symbackprop predict classifier --params params.npz --data two_class\n"
        + status_line(ok="predicted", failed=None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "--params", required=True, metavar="FILE.npz", help="parameters written by train --save"
    )
    parser.add_argument(
        "--data", required=True, metavar="FILE", help="CSV or NPZ file, or a bundled data set"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE.csv|FILE.npz", help="write the outputs here (CSV or NPZ)"
    )


def run(args: argparse.Namespace) -> int:
    """Predict, write, and evaluate when there are targets; errors raise SymbackpropError."""
    import sys

    from ..data import load_data
    from ..files import display_path
    from ..predict import predictions_csv, predictions_npz, write_predictions
    from ..spec import load_spec
    from ..train import (
        check_size,
        check_writable,
        describe,
        evaluate,
        load_params,
        module_for,
        split_stats,
    )

    network = load_spec(args.spec)
    check_size(network)
    if args.output:
        _format(args.output)
        check_writable(args.output)
    X, Y = load_data(args.data, network, targets_optional=True)
    check_size(network, len(X))
    module = module_for(network)
    params, stats = split_stats(module, load_params(args.params, network))
    kept = () if stats is None else (stats,)  # batch norm in inference: the running statistics
    output = module.predict(params, X, *kept)
    report = sys.stdout if args.output else sys.stderr
    if Y.shape[1]:
        metrics = evaluate(network, params, X, Y, stats)
        print(f"loss {metrics.loss:.6g}, {describe(metrics)} ({len(X)} rows)", file=report)
    if args.output is None:
        from . import write_stdout

        write_stdout(predictions_csv(output))
        return EXIT_OK
    if _format(args.output) == "npz":
        write_predictions(args.output, predictions_npz(output))
    else:
        write_predictions(args.output, predictions_csv(output).encode("utf-8"))
    print(f"wrote {display_path(args.output)} ({len(X)} rows)")
    return EXIT_OK


def _format(path: str) -> str:
    """'csv' or 'npz' from the output's suffix; anything else is a one-line error."""
    from ..errors import SymbackpropError

    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in ("csv", "npz"):
        raise SymbackpropError(f"-o {path}: expected a .csv or .npz file name")
    return suffix
