"""gancourse: the importable package behind the GAN reproducibility course.

Folders are the layers, bottom up; a module imports only from its own layer or those below
(README: Architecture; ``tests/test_architecture.py`` keeps it so):

- foundations  ``seeding`` (training vs evaluation RNG), ``progress`` (bars), ``profiles`` (the scales, as data)
- ``nn/``          layers and models (one file per family)
- ``training/``    the loop (``loop.Trainer``) and the parts it composes; losses; rank helpers
- ``data``         MNIST, CIFAR-10, package-shipped fallbacks, 2D mixtures
- ``instruments/`` extractors, FID/KID/IS/MS-SSIM, SWD, linear probe
- ``papers/``      one module (or folder) per document's ideas
- ``course/``      notebook preamble, results and scorecards, exercises, grading, the CLI

``gancourse.course.viz.package_map()`` prints every module with its first sentence.
"""

__version__ = "0.1.0"


class CourseError(RuntimeError):
    """An error meant for a person: one message that says what is wrong and names the fix."""
