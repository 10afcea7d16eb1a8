"""What D's features are worth: a linear probe (Radford et al. 2016, §5.1; the survey's last question).

Freeze a discriminator, take its penultimate features ``D.features(x)`` for labelled images, fit a
logistic regression (scikit-learn) on a training split and report its accuracy on a held-out split.
Compared with the same probe on a randomly initialised D of the same architecture and on raw
pixels, it says how much of what D learned to tell real from fake is about the classes.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ..data import ImageSet
from .. import threads, timing


@timing.timed("evaluation")
@torch.no_grad()
@threads.evaluation()
def features(D: torch.nn.Module, images: ImageSet, device="cpu", batch_size: int = 500) -> np.ndarray:
    """``D.features`` of every image (floats in [−1, 1]), D in eval mode; (N, F) on the CPU."""
    was = D.training
    D.eval()
    out = [D.features(x.to(device)).flatten(1).cpu() for x in images.float().split(batch_size)]
    D.train(was)
    return torch.cat(out).numpy()


def pixels(images: ImageSet) -> np.ndarray:
    return images.float().flatten(1).numpy()


@timing.timed("evaluation")
@threads.evaluation()
def linear_probe(train_x: np.ndarray, train_y, test_x: np.ndarray, test_y, C: float = 1.0, seed: int = 0) -> float:
    """Accuracy on (test_x, test_y) of a logistic regression fitted on standardised (train_x, train_y)."""
    scaler = StandardScaler().fit(train_x)
    clf = LogisticRegression(C=C, max_iter=1000, random_state=seed)
    clf.fit(scaler.transform(train_x), np.asarray(train_y))
    return float(clf.score(scaler.transform(test_x), np.asarray(test_y)))
