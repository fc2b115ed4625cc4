"""`symbackprop train`: generate a spec's NumPy module in memory and train it on a data set."""

from __future__ import annotations

import argparse
import sys

from ..arguments import add_no_cache, number_arg, paragraph, whole_number_arg
from .exits import EXIT_FAILED, EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "train a spec's generated NumPy module on a CSV or NPZ data set"
#: `data.bundled()`, named here so that the parser needs no NumPy (a test checks that the two
#: agree).
BUNDLED_DATA = ("digits", "separable", "two_class", "xor")


def register(commands: Commands) -> None:
    """Add `train` to the command line."""
    description = (
        "Generate the NumPy module for SPEC in memory and train it by gradient descent: full "
        "batch (GD) without --batch-size, SGD with --batch-size 1, minibatches (gradient "
        "averaged over the batch) otherwise. Prints the final loss, and the accuracy (softmax: "
        "argmax; sigmoid outputs with 0/1 targets: output > 0.5, per unit when there are "
        "several) or else the mean absolute error and RMSE. A progress bar is drawn on stderr "
        "when it is a terminal (and the CI variable is not set)."
    )
    data_help = (
        "DATA: a CSV file (input columns, then target columns; an optional header row, "
        "recognised by having no numbers), an .npz file with arrays X and Y, or a bundled data "
        f"set: {', '.join(BUNDLED_DATA)}. For a softmax classifier the targets may instead be "
        "one column (or an NPZ vector Y) of integer class labels 0..K-1, which are one-hot "
        "encoded."
    )
    parser = commands.add_parser(
        "train",
        help=HELP,
        description=paragraph(description),
        epilog=f"{paragraph(data_help)}\n\n"
        "Examples:\n  symbackprop train single_neuron --data separable\n"
        "  symbackprop train single_neuron --data separable --batch-size 1 --epochs 20\n"
        "  symbackprop train classifier --data two_class --epochs 300 --batch-size 20 \\\n"
        "      --plot loss.png --save params.npz\n"
        "  symbackprop train classifier --data two_class --epochs 50 --init params.npz\n"
        "  symbackprop train xor --data xor --lr 0.05 --epochs 300 --optimizer adam\n"
        "  symbackprop train classifier --data two_class --epochs 200 --schedule cosine \\\n"
        "      --warmup 5 --val-split 0.2 --patience 20\n"
        + status_line(ok="trained", failed="training diverged"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "--data", required=True, metavar="FILE", help="CSV or NPZ file, or a bundled data set"
    )
    parser.add_argument("--lr", type=number_arg, default=0.5, help="learning rate η (default 0.5)")
    parser.add_argument(
        "--epochs", type=whole_number_arg, default=100, help="passes over the data (100)"
    )
    parser.add_argument(
        "--batch-size",
        type=whole_number_arg,
        metavar="N",
        help="samples per update: omit for full batch, 1 for SGD, N for minibatches",
    )
    parser.add_argument(
        "--seed",
        type=whole_number_arg,
        default=0,
        help="seed of the initial weights and the shuffling (0)",
    )
    parser.add_argument(
        "--optimizer",
        metavar="NAME[:KEY=VALUE...]",
        help="sgd (default), momentum, nesterov, adagrad, rmsprop, adam or adamw, with PyTorch's"
        " defaults (symbackprop optimizers NAME), e.g. adam or momentum:momentum=0.8",
    )
    parser.add_argument(
        "--schedule",
        metavar="NAME[:KEY=VALUE...]",
        help="the learning rate per epoch, as PyTorch's schedulers: constant (default),"
        " step:step_size=S[:gamma=0.1], exponential:gamma=G, cosine[:t_max=EPOCHS][:eta_min=0]",
    )
    parser.add_argument(
        "--warmup",
        type=whole_number_arg,
        metavar="W",
        help="raise the rate linearly over the first W epochs (lr (e+1)/W), then --schedule",
    )
    parser.add_argument(
        "--val-split",
        type=number_arg,
        metavar="FRACTION",
        help="hold out this fraction of the rows (drawn by --seed); their loss is printed after"
        " training and plotted per epoch",
    )
    parser.add_argument(
        "--patience",
        type=whole_number_arg,
        metavar="N",
        help="stop when the held-out loss (the training loss without --val-split) has not"
        " improved for N epochs, keeping the best epoch's parameters",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="plot the loss per epoch (matplotlib)")
    parser.add_argument("--save", metavar="FILE.npz", help="write the trained parameters")
    parser.add_argument("--init", metavar="FILE.npz", help="start from parameters saved by --save")
    add_no_cache(parser)


def run(args: argparse.Namespace) -> int:
    """Train and print the result; returns the exit status (errors raise SymbackpropError)."""
    from .. import cache
    from ..data import load_data
    from ..files import display_path
    from ..plots import Boundary, is_two_input_classifier
    from ..progress import Progress
    from ..schedules import parse_schedule
    from ..spec import load_spec
    from ..train import (
        Diverged,
        check_size,
        check_writable,
        describe,
        load_params,
        module_for,
        require_matplotlib,
        save_params,
        save_plot,
        train_network,
        use_module,
    )

    network = load_spec(args.spec)
    check_size(network)
    optimizer, options = _optimizer(args.optimizer, args.lr)
    schedule = parse_schedule(args.schedule, args.warmup)
    if args.plot:
        require_matplotlib()  # fail before training, not after it
        check_writable(args.plot)
    if args.save:
        check_writable(args.save)
    X, Y = load_data(args.data, network)
    check_size(network, len(X))
    generated, _ = cache.module(args.spec, network, use=cache.enabled(args.no_cache))
    use_module(network, generated.source)
    init = load_params(args.init, network) if args.init else None
    with Progress() as progress:

        def show(epoch: int, value: float) -> None:
            progress("epoch", epoch + 1, args.epochs, f"loss {value:.6g}")

        try:
            result = train_network(
                network,
                X,
                Y,
                lr=args.lr,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                init=init,
                callback=show,
                optimizer=optimizer,
                optimizer_options=options,
                schedule=schedule if args.schedule or args.warmup else None,
                val_split=args.val_split,
                patience=args.patience,
            )
        except Diverged as err:  # a failed run, as gd's divergence, not bad input
            print(f"symbackprop: {err}", file=sys.stderr)
            return EXIT_FAILED
    rows = f"{len(X)} row{'s' * (len(X) != 1)}"
    if result.fit is not None and result.fit.held_out:
        rows += f" ({len(X) - result.fit.held_out} to train on, {result.fit.held_out} held out)"
    start = f", from {display_path(args.init)}" if args.init else ""
    epochs = f"{args.epochs} epoch{'s' * (args.epochs != 1)}"
    using = "" if args.optimizer is None else f", {args.optimizer}"
    print(
        f"{network.name}: {rows}, {epochs}, {result.mode}, lr {args.lr:g}{using}, seed"
        f" {args.seed}{start}"
    )
    if result.fit is not None and (args.schedule or args.warmup):
        print(f"schedule {schedule.describe()}: lr {result.fit.rates[-1]:.6g} in the last epoch")
    if result.fit is not None and result.fit.stopped is not None:
        print(
            f"stopped early after epoch {result.fit.stopped} ({args.patience} without"
            f" improvement); kept epoch {result.fit.best}"
        )
    print(f"final loss {result.metrics.loss:.6g} (first epoch {result.history[0]:.6g})")
    print(describe(result.metrics))
    if result.validation is not None and result.fit is not None:
        held = f"{result.fit.held_out} held-out row{'s' * (result.fit.held_out != 1)}"
        print(
            f"validation loss {result.validation.loss:.6g}, {describe(result.validation)} ({held})"
        )
    if args.save:
        save_params(args.save, {**result.params, **(result.stats or {})})
        print(f"wrote {display_path(args.save)}")
    if args.plot:
        title = f"{network.name}: lr {args.lr:g}, {result.mode}"
        if args.schedule or args.warmup:
            title = f"{network.name}: lr {args.lr:g}, {schedule.describe()}, {result.mode}"
        boundary = None
        if is_two_input_classifier(network):
            module, params = module_for(network), result.params
            kept = () if result.stats is None else (result.stats,)
            boundary = Boundary(
                lambda rows: module.predict(params, rows, *kept),
                X,
                Y,
                network.layers[-1].activation.is_softmax,
            )
        ylabel = f"mean loss ({network.loss.name})"
        validation = result.fit.validation if result.fit is not None else None
        save_plot(
            args.plot,
            result.history,
            title,
            ylabel,
            lr=args.lr,
            boundary=boundary,
            validation=validation,
        )
        print(f"wrote {display_path(args.plot)}")
    if result.diverged:
        print(f"symbackprop: warning: {result.diverged}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _optimizer(text: str | None, lr: float) -> tuple[str, dict[str, float] | None]:
    """--optimizer NAME[:KEY=VALUE...] as gd's --method reads one; its lr is --lr's."""
    if text is None:
        return "sgd", None
    from ..errors import SymbackpropError
    from ..gd.methods import parse_methods

    if "," in text:
        raise SymbackpropError(f"--optimizer {text}: one optimizer, not a list")
    ((name, options),) = parse_methods(text, "--optimizer")
    if "lr" in options:
        raise SymbackpropError(f"--optimizer {text}: give the learning rate as --lr {lr:g}")
    return name, options
