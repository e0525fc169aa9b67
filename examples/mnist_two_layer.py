"""The flagship: a two-layer network (784 -> hidden -> 10, ReLU) trained on MNIST with SGD.

The code lives in the library, ``tinygrad_edu/flagship.py`` (read it: the training loop is
a dozen lines), so that ``tinygrad-edu train`` runs it too. Try ``--help``.
"""

from tinygrad_edu.flagship import main

if __name__ == "__main__":
    main()
