"""The command line: ``digitnet train | evaluate | predict | app``.

``main(argv) -> int`` parses, runs and returns an exit code; ``entrypoint()`` is the console
script. Every failure a user can cause (a bad flag value, a missing or corrupted file, a learning
rate that diverges, a disk that fills up) ends with one line on stderr and a non-zero exit,
never a traceback: 2 for bad input, 1 for a run that failed, 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import __version__, fast, safeio
from .data import DATASETS, DataError, Split, evaluation_dataset, load_dataset, load_test_set
from .nn.layers import Dropout, Layer, layer_from_config
from .nn.network import Network, confusion_matrix, dense_stack
from .nn.optimizers import OPTIMIZERS, SCHEDULES
from .convert import ConvertError, read_book_pickle, to_network
from . import detector, examples, finetune, reject
from .persistence import ModelFileError, check_architecture, load_model, save_model
from .presets import DEFAULTS, PRESETS
from .training import TrainConfig, TrainingDiverged, TrainState, fit, load_checkpoint


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers such as 784,16,16,10, not {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes need at least two positive widths, not {text!r}")
    return sizes


def _int_at_least(low: int):
    """An argparse type: a whole number no smaller than ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value
    return parse


def _check_writable(path: Path, flag: str) -> None:
    """Refuse an output path that cannot be written *before* training, not after an hour of it
    (``safeio.check_output``: not a regular file, or no file can be created there)."""
    safeio.check_output(path, flag)


def _augment(text: str) -> dict[str, float]:
    """``--augment``: ``default``, ``none``, or ``key=value`` pairs of ``digitnet.augment.Augmenter``."""
    if text == "none":
        return {}
    if text == "default":
        return {"shift": 2.0, "rotate": 10.0, "scale": 0.1}
    try:
        spec = {k.strip(): float(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--augment takes default, none or key=value pairs such as shift=2,rotate=10, not {text!r}")
    return spec


class _HelpFormatter(argparse.HelpFormatter):
    """Help that ends each argument's text with its default, unless the text already says it or
    there is none to say (``None``, a flag's ``False``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not text:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, saying where the help is, rather than the usage block,
    and whose help shows the defaults (every subcommand's parser is one of these)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="digitnet", description="A neural network from scratch in NumPy that reads handwritten digits.")
    parser.add_argument("--version", action="version", version=f"digitnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a network and save it",
                       description="Train a network on MNIST or Fashion-MNIST and save it as a model file.")
    t.add_argument("--preset", choices=sorted(PRESETS), help="a named configuration (flags override it)")
    arch = t.add_argument_group("architecture")
    arch.add_argument("--sizes", type=_sizes, help="layer widths, e.g. 784,16,16,10")
    arch.add_argument("--activation", choices=["sigmoid", "tanh", "relu"], help="hidden activation")
    arch.add_argument("--output-activation", choices=["sigmoid", "softmax"], help="output activation")
    arch.add_argument("--cost", choices=["quadratic", "cross-entropy"])
    arch.add_argument("--init", choices=["normal", "scaled", "he", "glorot"])
    arch.add_argument("--dropout", type=float, help="dropout rate after each hidden layer")
    arch.add_argument("--dtype", choices=["float32", "float64"], help="precision (default float32)")
    opt = t.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int)
    opt.add_argument("--batch-size", type=int)
    opt.add_argument("--eta", "--lr", dest="eta", type=float, help="learning rate")
    opt.add_argument("--optimizer", choices=OPTIMIZERS)
    opt.add_argument("--momentum", type=float)
    opt.add_argument("--weight-decay", type=float, help="L2 weight decay")
    opt.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    opt.add_argument("--warmup", type=_int_at_least(0), help="epochs of linear learning-rate warm-up")
    opt.add_argument("--refresh-bn", action="store_true", default=None,
                     help="after the last epoch, measure the batch-norm statistics again on the plain "
                          "training images (digitnet.training.refresh_batchnorm)")
    opt.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                     help="stop after PATIENCE epochs without a better validation accuracy; keep the best")
    opt.add_argument("--augment", type=_augment, nargs="?", const="default", metavar="SPEC",
                     help="distort training images on the fly: 'default' (shift=2,rotate=10,scale=0.1, "
                          "also when SPEC is left out), 'none', or pairs such as "
                          "shift=2,rotate=10,scale=0.1,elastic_alpha=34,elastic_sigma=4")
    opt.add_argument("--seed", type=_int_at_least(0), help="seed of all randomness (default 0)")
    data = t.add_argument_group("data")
    data.add_argument("--dataset", choices=sorted(DATASETS), help="default mnist")
    data.add_argument("--data-dir", type=Path,
                      help="folder with the IDX files, or its parent holding <dataset>/ (default: "
                           "$DIGITNET_DATA_DIR, which accepts the same, or the cache)")
    data.add_argument("--validation", type=int, help="validation images held out from the training file "
                                                      "(default 10000; 0: train on all 60k)")
    data.add_argument("--limit", type=_int_at_least(1),
                      help="train on the first N training images only (quick runs)")
    data.add_argument("--outliers", type=_int_at_least(0), metavar="N",
                      help="add N generated non-digits (letters, scribbles, ...) with a uniform target, "
                           "so the model learns to say 'not a digit' (digitnet.outliers; default 0)")
    data.add_argument("--styles", type=_int_at_least(0), metavar="N",
                      help="add N slashed zeros, N crossed sevens and N flagged ones drawn onto training "
                           "digits (digitnet.styles; default 0)")
    data.add_argument("--fat-strokes", type=_int_at_least(0), metavar="N",
                      help="add N training digits redrawn with a brush 22-50%% of their height and "
                           "prepared as a drawing (digitnet.styles.fat_drawn; default 0)")
    out = t.add_argument_group("output")
    out.add_argument("-o", "--output", type=Path, default=Path("model.npz"), help="model file to write")
    out.add_argument("--checkpoint", type=Path, help="write a resumable checkpoint here after each epoch")
    out.add_argument("--resume", type=Path, metavar="CHECKPOINT", help="continue a run from its checkpoint")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    out.add_argument("--reference", action="store_true",
                     help="train with the textbook layers of digitnet.nn only, no fast kernel (slower)")

    for action in t._actions:  # train's defaults live in presets.DEFAULTS, so that a preset can tell given from not
        if DEFAULTS.get(action.dest) is not None and "default" not in (action.help or ""):
            shown = DEFAULTS[action.dest]
            shown = ",".join(map(str, shown)) if isinstance(shown, list) else shown
            action.help = f"{action.help + ' ' if action.help else ''}(default: {shown}, or the preset's)"

    c = sub.add_parser("convert", help="turn a network pickled by the book's network.py into a model file",
                       description="Read a network.Network pickled by the book's network.py (sizes, weights, "
                                   "biases) without running any code from the file, and write it as a "
                                   "digitnet model file that predicts as the pickled network did.")
    c.add_argument("pickle", type=Path, metavar="PICKLE", help="the pickled network, e.g. trained_network.pkl")
    c.add_argument("-o", "--output", type=Path, required=True, help="model file to write")

    e = sub.add_parser("evaluate", help="test a model file",
                       description="Accuracy, per-digit accuracy and confusion matrix on the test set.")
    e.add_argument("model", type=Path, nargs="?", default=None, metavar="MODEL",
                   help="model file to test (default: the model shipped with digitnet)")
    e.add_argument("--dataset", choices=sorted(DATASETS), help="default: the model's own dataset")
    e.add_argument("--data-dir", type=Path,
                   help="folder with the two test IDX files (t10k-*), or its parent holding <dataset>/ "
                        "(default: $DIGITNET_DATA_DIR, which accepts the same, or the cache)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--no-reject", action="store_true",
                   help="no 'not a digit' answers: report plain accuracy only")

    p = sub.add_parser("predict", help="read the digit in image files",
                       description="Read the digit in each image (PNG, JPEG, ...; light on dark or dark on "
                                   "light, any size) with the same preprocessing as the app. Prints "
                                   "'path digit confidence' per image; a file that fails gets one line on "
                                   "stderr and the exit code 2, and the others are still read.")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                   help="image files, one digit each (-: standard input)")
    p.add_argument("--model", type=Path, help="model file (default: the model shipped with digitnet)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: path, digit (null: not a digit, with a reason), "
                        "probabilities (10 floats), scores (calibrated) and confidence")
    p.add_argument("--no-reject", action="store_true", help="always answer a digit, never 'not a digit'")

    r = sub.add_parser("read", help="read the number in image files",
                       description="Read the number written in each image: the drawing is cut into digits "
                                   "(strokes of one digit joined, touching digits split) and each is read "
                                   "like 'predict' does. Prints 'path number' per image; parts that are "
                                   "not digits are left out and counted.")
    r.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                   help="image files, one number each (-: standard input)")
    r.add_argument("--model", type=Path, help="model file (default: the model shipped with digitnet)")
    r.add_argument("--json", action="store_true",
                   help="one JSON object per line: path, number, digits, boxes, confidences, rejected parts")
    r.add_argument("--no-reject", action="store_true", help="read every part as a digit")

    a = sub.add_parser("app", help="start the drawing app in the browser",
                       description="Start the Streamlit drawing app (needs the app extra: "
                                   "pip install 'digitnet[app]').")
    a.add_argument("--model", type=Path, help="model file to start with (default: the shipped model)")
    a.add_argument("--models-dir", type=Path, default=Path("models"),
                   help="folder whose *.npz model files the app offers in its model picker (default: models)")
    a.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    a.add_argument("--no-reject", action="store_true",
                   help="start with 'not a digit' answers off (the sidebar switches them back on)")

    examples.register(sub)
    finetune.register(sub)
    detector.register(sub)
    return parser


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Flag values: the command line over the preset over the defaults."""
    opts = dict(DEFAULTS)
    if args.preset:
        opts.update(PRESETS[args.preset])
    opts.update({k: v for k, v in vars(args).items() if v is not None})
    return opts


def build_network(opts: dict[str, Any]) -> Network:
    """The network the options describe: a preset's layer list, or a dense stack of ``sizes``."""
    if opts.get("layers"):
        layers: list[Layer] = [layer_from_config(c) for c in opts["layers"]]
        _check_memory(layers, (784,), opts)
        return Network(layers, cost=opts["cost"], seed=opts["seed"], dtype=opts["dtype"])
    sizes = opts["sizes"]
    layers = dense_stack(sizes, opts["activation"], opts["output_activation"], opts["init"])
    if opts["dropout"]:
        # After each hidden activation: positions 1, 3, ... except the output's.
        for pos in range(len(layers) - 3, 0, -2):
            layers.insert(pos + 1, Dropout(opts["dropout"]))
    _check_memory(layers, (sizes[0],), opts)
    return Network(layers, cost=opts["cost"], seed=opts["seed"], dtype=opts["dtype"],
                   input_shape=(sizes[0],))


def _check_memory(layers: list[Layer], input_shape: tuple[int, ...], opts: dict[str, Any]) -> None:
    """Refuse, before a parameter is allocated, a network that would not fit in memory for
    training ("needs N GB, the limit is M GB"): parameters, gradients and optimizer state,
    and every layer's output for a batch (``persistence.check_architecture``)."""
    config = {"input_shape": list(input_shape), "layers": [layer.config() for layer in layers],
              "cost": opts["cost"], "dtype": opts["dtype"]}
    check_architecture(config, batch=opts["batch_size"], copies=4)


def _augmenter(spec: dict[str, float] | None):
    if not spec:
        return None
    from .augment import Augmenter  # scipy is only needed when augmenting

    try:
        return Augmenter(**spec)
    except TypeError:
        raise UsageError(f"unknown --augment setting in {spec}: use shift, rotate, scale, "
                         "elastic_alpha, elastic_sigma or p") from None


# What ``--resume`` still takes from the command line: where the data is and where to write.
# Everything else (architecture, optimiser, data set, --limit, ...) is the checkpoint's. The
# other train flags have no argparse default (``None``: not given; see ``presets.DEFAULTS``).
_RESUME_FLAGS = {"command", "resume", "data_dir", "output", "checkpoint", "no_progress", "reference"}
# The flags that shape a dense stack; a preset with its own layer list has no use for them.
_DENSE_FLAGS = ("sizes", "activation", "output_activation", "init", "dropout")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _with_extras(data, n_outliers: int, n_styles: int, n_fat: int, seed: int):
    """``data`` with ``n_outliers`` generated non-digits (label 10), ``n_styles`` digits of each
    style (``digitnet.styles``) and ``n_fat`` fat-brush drawings appended to its training split."""
    if n_outliers:
        from .outliers import with_outliers

        data = with_outliers(data, n_outliers, seed)
    if n_styles:
        from .styles import with_styles

        data = with_styles(data, n_styles, seed)
    if n_fat:
        from .styles import with_fat_strokes

        data = with_fat_strokes(data, n_fat, seed)
    return data


def _limited(data, limit: int | None):
    """``data`` with only the first ``limit`` training images (all of them for ``None``)."""
    if not limit:
        return data
    return dataclasses.replace(data, train=Split(data.train.X[:limit], data.train.y[:limit]))


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _check_writable(args.output, "--output")
    if args.checkpoint:
        _check_writable(args.checkpoint, "--checkpoint")
    if args.resume:
        changed = [_flag(k) for k, v in vars(args).items() if k not in _RESUME_FLAGS and v is not None]
        if changed:
            raise UsageError(f"--resume continues the run exactly as its checkpoint describes it: "
                             f"leave out {', '.join(changed)}")
        if not args.checkpoint:
            _check_writable(args.resume, "--resume")  # the run goes on writing its checkpoint there
        net, optimizer, config, state, meta = load_checkpoint(args.resume, run=True)
        augment = _augmenter(config.augment)
        dataset = meta["dataset"]["name"]
        data = load_dataset(dataset, args.data_dir, meta["training"]["validation"])
        if data.sha256 != meta["dataset"]["sha256"]:
            raise UsageError(f"{args.resume} was trained on other {dataset} files than {data.sha256[:12]}")
        command, validation, seed = (meta["training"][k] for k in ("command", "validation", "seed"))
        limit, n_outliers = meta["training"].get("limit"), meta["training"].get("outliers", 0)
        n_styles, n_fat = meta["training"].get("styles", 0), meta["training"].get("fat_strokes", 0)
        data = _with_extras(_limited(data, limit), n_outliers, n_styles, n_fat, seed)
        print(f"resuming {args.resume} after epoch {state.epoch} of {config.epochs}")
    else:
        opts = _options(args)
        if opts.get("layers"):
            given = [_flag(k) for k in _DENSE_FLAGS if getattr(args, k) is not None]
            if given:
                raise UsageError(f"--preset {args.preset} has its own layers, which {', '.join(given)} "
                                 "cannot change (without --preset, the flags describe a dense stack)")
        config = TrainConfig(
            epochs=opts["epochs"], batch_size=opts["batch_size"], optimizer=opts["optimizer"],
            lr=opts["eta"], momentum=opts["momentum"], weight_decay=opts["weight_decay"],
            schedule=opts["schedule"], warmup=opts["warmup"], early_stopping=opts["early_stopping"],
            refresh_bn=bool(opts["refresh_bn"]),
            augment=opts["augment"] or {},
        )
        augment = _augmenter(config.augment)
        net = build_network(opts)
        validation, seed = opts["validation"], opts["seed"]
        if config.early_stopping and validation == 0:
            raise UsageError("--early-stopping needs a validation set (--validation > 0)")
        sizes = opts["sizes"]
        if not opts.get("layers") and (sizes[0], sizes[-1]) != (784, 10):
            raise UsageError(f"--sizes must start with the 784 pixels and end with the 10 classes of every "
                             f"dataset here, such as 784,30,10; not {','.join(map(str, sizes))}")
        data = load_dataset(opts["dataset"], args.data_dir, validation)
        limit, n_outliers, n_styles, n_fat = args.limit, opts["outliers"], opts["styles"], opts["fat_strokes"]
        data = _with_extras(_limited(data, limit), n_outliers, n_styles, n_fat, seed)
        optimizer, state = config.make_optimizer(), TrainState()
        command = shlex.join(["digitnet", *argv])
        epochs = f"{config.epochs} epoch{'s' * (config.epochs != 1)}"
        print(f"{net.describe()}; {len(data.train.X)} training images, {epochs}, "
              f"batch {config.batch_size}, {config.optimizer} eta {config.lr:g}")
    meta = {
        "training": {"command": command, "seed": seed, "validation": validation, "limit": limit,
                     "outliers": n_outliers, "styles": n_styles, "fat_strokes": n_fat},
        "dataset": {"name": data.name, "sha256": data.sha256},
    }
    # Ctrl-C and SIGTERM stop training at once, keeping the last completed epoch; one that
    # arrives during the final save waits for it. Either way the model is written, exit 130.
    with safeio.InterruptGuard() as guard:
        try:
            fit(net, data, config, optimizer, state, augment=augment,
                checkpoint=args.checkpoint or args.resume, progress=not args.no_progress, metadata=meta,
                reference=args.reference)
            safeio.pause_for_tests("after-fit")
            with contextlib.nullcontext() if args.reference else fast.kernels(net):
                test_acc = net.evaluate(data.test.X, data.test.y)
                if data.validation is not None:  # the "not a digit" threshold and temperature
                    meta["reject"] = reject.fit(net, data.validation.X, data.validation.y)
        except TrainingDiverged as e:
            print(f"digitnet: training stopped: {e}; {args.output} was not written", file=sys.stderr)
            return 1
        except KeyboardInterrupt:  # after fit's epoch loop (which handles its own): the weights are whole
            state.interrupted, test_acc = True, None
            if state.best_weights is not None:  # the early-stopping restore may have been cut short
                net.load_state_dict(state.best_weights)
        guard.interruptible = False
        if state.interrupted and state.epoch == 0:
            print("interrupted before the first epoch ended: no model written", file=sys.stderr)
            return 130
        meta["training"]["config"] = dataclasses.asdict(config)
        meta.update(history=state.history, test_accuracy=test_acc, epochs_completed=state.epoch)
        save_model(args.output, net, meta)
    if state.interrupted or guard.received:
        print(f"interrupted: saved the model of epoch {state.epoch} to {args.output}", file=sys.stderr)
        return 130
    print(f"test accuracy {test_acc:.4f} ({round(test_acc * len(data.test.y))} / {len(data.test.y)})"
          f"; saved {args.output}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .models import default_model_path

    args.model = args.model or default_model_path()
    net, meta = load_model(args.model)
    fast.accelerate(net)  # the kernels: the textbook layers would take minutes on the cnn
    name = args.dataset or evaluation_dataset(meta)
    test = load_test_set(name, args.data_dir)  # the two test files: no training file is needed
    pred = net.predict(test.X)
    C = confusion_matrix(test.y, pred)
    per_digit = (np.diag(C) / C.sum(axis=1)).tolist()
    accuracy = float(np.trace(C) / C.sum())
    kept = None  # with the reject option: the share of test images read as digits, and their accuracy
    if not args.no_reject and reject.settings(meta):
        digits, _, _ = reject.classify(net, meta, test.X)
        read = np.array([d is not None for d in digits])  # (n,)
        right = np.array([d == y for d, y in zip(digits, test.y)])  # (n,)
        kept = {"coverage": float(read.mean()), "accuracy_on_kept": float(right.sum() / max(read.sum(), 1))}
    if args.json:
        print(json.dumps({"model": str(args.model), "dataset": name, "n": int(C.sum()), "accuracy": accuracy,
                          "per_digit_accuracy": per_digit, "confusion_matrix": C.tolist(), **(kept or {})}))
        return 0
    print(f"{args.model}: {net.describe()}")
    print(f"test accuracy on {name}: {accuracy:.4f} ({np.trace(C)} / {C.sum()})")
    if kept:
        print(f"with 'not a digit': {kept['coverage']:.2%} of the test images kept, "
              f"accuracy on those {kept['accuracy_on_kept']:.4f} (--no-reject: every image read)")
    print("per digit:  " + "  ".join(f"{d}:{a:.3f}" for d, a in enumerate(per_digit)))
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{j:>6}" for j in range(10)))
    for i, row in enumerate(C):
        print(f"{i:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def _load_for_reading(path: Path | None) -> tuple[Network, dict[str, Any]]:
    """The model ``predict`` and ``read`` use: ``path`` or the shipped one."""
    from .models import default_model_path

    model = path or default_model_path()
    try:
        net, meta = load_model(model)
        fast.accelerate(net)
    except ModelFileError as e:
        hint = "" if Path(model).exists() else f"; train one with: digitnet train -o {model}"
        raise ModelFileError(f"{e}{hint}") from None
    return net, meta


STDIN = Path("-")
"""The image path that stands for standard input: ``digitnet read - < number.png``."""


def _stdin_bytes() -> bytes:
    """Everything piped to standard input, at most the bytes of an uncompressed image at the pixel
    limit; a terminal, nothing or more than that is refused (``ValueError``)."""
    from .preprocess import MAX_PIXELS

    most = 4 * MAX_PIXELS + (1 << 20)  # RGBA pixels and room for the headers
    if sys.stdin is None or sys.stdin.isatty():
        raise ValueError("standard input is a terminal: pipe an image in, as in digitnet read - < number.png")
    data = sys.stdin.buffer.read(most + 1)
    if not data:
        raise ValueError("standard input is empty: no image was piped in")
    if len(data) > most:
        raise ValueError(f"standard input holds more than {most >> 20} MiB: too large for an image")
    return data


def _read_image(path: Path):
    """The decoded image at ``path`` (``-``: standard input); a FIFO, device or folder is refused
    unread (``ValueError``)."""
    from .preprocess import load_image

    if path == STDIN:
        return load_image(io.BytesIO(_stdin_bytes()), name="from standard input")
    kind = safeio.not_regular(path)
    if kind:  # a FIFO would block the read forever, a device never end
        raise ValueError(f"{path} is {kind}, not an image file")
    return load_image(path)


def _images(paths: list[Path]) -> list[Path]:
    """``paths`` as given; standard input holds one image, so ``-`` may be named once."""
    if paths.count(STDIN) > 1:
        raise UsageError("standard input holds one image: give - once")
    return paths


def _image_error(path: Path, e: ValueError) -> None:
    name = "standard input" if path == STDIN else str(path)
    message = str(e) if name in str(e) else f"{name}: {e}"  # load_image names the file
    print(f"digitnet: error: {message}", file=sys.stderr)


def cmd_predict(args: argparse.Namespace) -> int:
    from .preprocess import to_mnist

    net, meta = _load_for_reading(args.model)
    failed = 0
    for path in _images(args.images):
        try:
            x = to_mnist(_read_image(path))  # (784,)
        except ValueError as e:  # unreadable, not an image, too large, blank
            _image_error(path, e)
            failed += 1
            continue
        X = x.reshape(1, *net.input_shape)
        proba = net.predict_proba(X)[0]  # (10,)
        (digit,), scores, (reason,) = reject.classify(net, meta, X, not args.no_reject)
        confidence = float(scores[0].max())
        if args.json:
            record = {"path": str(path), "digit": digit, "probabilities": [float(p) for p in proba],
                      "scores": [float(p) for p in scores[0]], "confidence": confidence}
            print(json.dumps(record if reason is None else {**record, "reason": reason}))
        else:
            print(f"{path} {reason if digit is None else digit} {confidence:.4f}")
    return 2 if failed else 0


def cmd_read(args: argparse.Namespace) -> int:
    """``digitnet read IMAGE...``: the number in each image."""
    from .segment import read

    net, meta = _load_for_reading(args.model)
    failed = 0
    for path in _images(args.images):
        try:
            reading = read(net, meta, _read_image(path), use_reject=not args.no_reject)
        except ValueError as e:  # unreadable, not an image, too large, blank
            _image_error(path, e)
            failed += 1
            continue
        if args.json:
            print(json.dumps({"path": str(path), "number": reading.number,
                              "digits": [p.digit for p in reading.digits],
                              "boxes": [list(p.box) for p in reading.digits],
                              "confidences": [p.confidence for p in reading.digits],
                              "rejected": [p.to_json() for p in reading.rejected]}))
        else:
            left_out = len(reading.rejected)
            note = f" ({left_out} part{'s' * (left_out != 1)} not a digit)" if left_out else ""
            print(f"{path} {reading.number or '-'}{note}")
    return 2 if failed else 0


def app_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line that ``digitnet app`` runs."""
    from .app import PAGE

    page_args = ["--models-dir", str(args.models_dir)]
    if args.model:
        page_args = ["--model", str(args.model), *page_args]
    if args.no_reject:
        page_args.append("--no-reject")
    return [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.port", str(args.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer", "--client.showErrorDetails", "none", "--", *page_args]


def cmd_app(args: argparse.Namespace) -> int:
    """Replace this process by ``streamlit run`` (so Ctrl-C and ``docker stop`` reach Streamlit)."""
    import importlib.util
    import os

    if args.model and not args.model.is_file():
        raise UsageError(f"model file not found: {args.model}")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, not {args.port}")
    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("the app needs Streamlit: pip install 'digitnet[app]'")
    sys.stdout.flush()
    os.execv(sys.executable, app_command(args))
    return 0  # not reached, except where a test replaces os.execv


def cmd_convert(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``digitnet convert PICKLE -o OUTPUT``: the book's pickled network as a model file."""
    _check_writable(args.output, "--output")
    sizes, weights, biases, digest = read_book_pickle(args.pickle)
    net = to_network(sizes, weights, biases)
    save_model(args.output, net, {
        "training": {"command": "digitnet " + shlex.join(argv)},
        "converted_from": {"file": args.pickle.name, "sha256": digest, "format": "pickled network.Network"},
    })
    print(f"{'-'.join(map(str, sizes))} sigmoid network from {args.pickle}; saved {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``digitnet`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed its usage line (or --help)
        return int(e.code or 0)
    try:
        if args.command == "train":
            return cmd_train(args, argv)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "read":
            return cmd_read(args)
        if args.command == "app":
            return cmd_app(args)
        if args.command == "convert":
            return cmd_convert(args, argv)
        if args.command == "examples":
            return examples.run(args)
        if args.command == "finetune":
            return finetune.cmd_finetune(args, argv)
        if args.command == "detector":
            return detector.cmd_detector(args, argv)
        return cmd_evaluate(args)
    except (UsageError, DataError, ModelFileError, ConvertError, ValueError) as e:
        print(f"digitnet: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that vanished or a full disk after the checks above
        print(f"digitnet: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digitnet: interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    """The ``digitnet`` console script."""
    raise SystemExit(main())
