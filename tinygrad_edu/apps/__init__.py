"""The command-line apps, on top of the library: the ``tinygrad-edu`` command (``cli``)
and what the course's programs share (``common``). The library below never imports them.

The programs themselves (the flagship trainer, the inference comparison) are the course's
example scripts, ``examples/*.py``; the package carries them as ``tinygrad_edu/examples``,
so ``tinygrad-edu train`` runs the very file a learner reads.
"""
