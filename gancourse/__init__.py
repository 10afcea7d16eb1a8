"""gancourse: the importable package behind the GAN reproducibility course.

One module per concept a learner looks for:

- ``profiles``  smoke / course / paper settings per notebook, device and seed
- ``data``      MNIST, CIFAR-10, package-shipped fallbacks, 2D mixtures
- ``models``    MLP and DCGAN generators / discriminators
- ``losses``    the GAN objective with f (minimax, non-saturating, hinge, Wasserstein) and penalties
- ``training``  the one training loop: EMA, hooks, checkpoints and resume, JSON-lines logs
- ``extractors`` feature extractors for metrics: Inception (download or file), course classifiers
- ``metrics``   FID / KID / IS through torchmetrics, mode coverage on 2D mixtures
- ``viz``       sample grids, loss curves, 2D scatter plots
- ``results``   the claims table each notebook ends with, and its results file
- ``cli``       ``python -m gancourse run``: papermill runner and scorecard
"""

__version__ = "0.1.0"


class CourseError(RuntimeError):
    """An error meant for a person: one message that says what is wrong and names the fix."""
