"""The papers' own ideas, one module (or folder) per document:

- ``mixtures``     the 2D mixtures recipe (survey, part 1)
- ``improved``     Salimans et al. 2016: the ablation switches (feature matching, minibatch
                   discrimination, historical averaging, label smoothing, virtual batch norm)
- ``ssl``          Salimans et al. 2016, §5: the semi-supervised K+1 classifier
- ``progressive``  Karras et al. 2018: growing with fade-in, Table-1 rows, equal-time comparison
- ``dirac``        the Dirac-GAN (survey, part 2: why unregularised training circles)
- ``stabilizers``  the survey's stabilizers on one SNDCGAN, and BigGAN's lesson (batch, width)
- ``nas/``         Gong et al. 2019, AutoGAN: controller, shared training, the search
- ``augment``      Zhao et al. 2020: augmentations, bCR, contrastive loss
"""
