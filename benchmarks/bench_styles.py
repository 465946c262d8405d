"""How the model reads digits written the way MNIST's writers rarely did, with its reject option.

MNIST's writers were American; many European writers slash their zeros, cross their sevens and
give their ones a long flag. The three styles of ``digitnet.styles`` are drawn onto MNIST test
digits (``styles.draw_style``, prepared by ``to_mnist``) and read by the model with its reject
option on: how many are read right, how many are refused as "not a digit", and the digit the
wrong ones are most often read as.

    .venv/bin/python benchmarks/bench_styles.py [--model PATH] [--n 300]
"""

from __future__ import annotations

import argparse

import numpy as np

from digitnet import reject
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.styles import STYLES, draw_style


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--n", type=int, default=300, help="test digits of each style")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    net, meta = load_model(args.model)
    test = load_dataset("mnist", args.data_dir, validation=0).test
    rng = np.random.default_rng(0)
    print(f"model {args.model}; {args.n} MNIST test digits of each style, reject option on")
    print("style          read right  refused  most read as")
    for style, (digit, _) in STYLES.items():
        X = draw_style(test.X[test.y == digit][:args.n], style, rng)  # (n, 784)
        digits, _, _ = reject.classify(net, meta, X.reshape(-1, *net.input_shape))
        read = np.array([-1 if d is None else d for d in digits])  # (n,), -1: refused
        wrong = np.bincount(read[(read >= 0) & (read != digit)], minlength=10)  # (10,)
        most = f"{int(wrong.argmax())} ({wrong.max() / len(read):.1%})" if wrong.any() else "-"
        print(f"{style:13}  {np.mean(read == digit):10.1%}  {np.mean(read == -1):7.1%}  {most}")


if __name__ == "__main__":
    main()
