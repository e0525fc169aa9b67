"""MNIST inference with saved weights: one image at a time versus batches.

The code lives in the library, ``tinygrad_edu/inference.py`` (its docstring explains why
batches are faster), so that ``tinygrad-edu infer`` runs it too. Try ``--help``.

    python examples/mnist_inference.py --weights sample_weight.npz
    python examples/mnist_inference.py --weights out/mnist_two_layer/mnist_two_layer.npz
"""

from tinygrad_edu.inference import main

if __name__ == "__main__":
    main()
