"""digitnet: a neural network written from scratch in NumPy that learns handwritten digits.

The classic design (M. Nielsen, *Neural Networks and Deep Learning*, ch. 1) is the default:
sizes ``[784, 16, 16, 10]``, sigmoid, quadratic cost, N(0, 1) weights, mini-batch SGD.
Every computation runs vectorised over the mini-batch; batches are rows, ``X.shape == (n, 784)``.
"""

__version__ = "0.1.0"
