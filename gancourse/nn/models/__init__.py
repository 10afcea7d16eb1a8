"""Generators and discriminators, one file per family:

- ``mlp``       MLP G and D for the 2D mixtures
- ``dcgan``     DCGAN for 28×28 and 32×32 images (Radford et al. 2016)
- ``pggan``     PGGAN's growing pair, ``ProGenerator`` / ``ProDiscriminator`` (Karras et al. 2018)
- ``mnist_ssl`` the semi-supervised MNIST classifier and generator (Salimans et al. 2016)
- ``sngan``     SNDCGAN and a (conditional) ResNet pair with self-attention (Miyato 2018; SAGAN; BigGAN)
- ``autogan``   AutoGAN's cell search space, its shared supergraph and the published generator (Gong 2019)

Every discriminator returns one raw score per sample (a logit, or a critic value for WGAN) and
exposes ``features(x)``: the penultimate activations, used by linear probes and feature matching.
All are re-exported here: ``models.DCGANGenerator`` works as before.
"""
from __future__ import annotations

from torch import nn

from .dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator
from .mnist_ssl import MNISTClassifier, MNISTGenerator, init_weightnorm
from .pggan import ProDiscriminator, ProGenerator

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "dcgan_init",
           "ProGenerator", "ProDiscriminator", "MNISTClassifier", "MNISTGenerator", "init_weightnorm", "n_params"]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
