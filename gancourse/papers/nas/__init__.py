"""AutoGAN's search (Gong et al. 2019, §3): an RNN controller trained by REINFORCE picks generator
cells, rewarded by the Inception Score of a child that borrows its weights from one shared
supergraph; the search grows one cell per stage (8 → 16 → 32 px), keeping a beam of the best.

One search iteration (official ``search.py``, ``functions.py``):

1. ``train_shared``: train the shared G and an SN-ResNet D with the hinge loss, each batch for an
   architecture sampled from the controller (which does not learn here); stop early if
   ``DynamicReset`` fires (the G or D loss has gone flat: training has collapsed).
2. ``ctrl_steps`` REINFORCE steps (``reinforce_step``): sample children, reward = IS of their samples.
3. If the reset fired, re-initialise the shared G and D and their optimisers (not the controller).

At each growth the current controller proposes ``n_candidates`` architectures; the ``beam`` best by
reward, with the controller's LSTM state after each, are kept (``top_k``); the next stage's new
controller starts from one of those states (chosen at random) and extends that architecture by one
cell. After the last stage the same ``top_k`` gives the derived architectures, which the paper
retrains from scratch (``AutoGANGenerator``) to pick the best. ``random_search`` runs the same loop,
same budget (same shared steps, same number of children scored), with a uniform sampler instead.

Training draws from the global RNG (seeded once by ``search``; checkpointed with ``out_dir``);
every reward draws its noise and IS splits from ``seeding``: every child is scored on the same z.

The search space itself (cells, the shared supergraph, the published ``autogan_cifar10_a``) lives with
the networks, in ``gancourse/nn/models/autogan.py``. Here:

- ``controller``  the LSTM policy, the uniform policy (random search), the REINFORCE step
- ``shared``      shared training of the supergraph, the dynamic reset, the IS reward
- ``search``      the multi-level search with a beam, random search, derive and retrain
"""
from .controller import Beam, Controller, Sample, UniformPolicy, reinforce_step
from .search import (CHECKPOINT, SearchConfig, SearchLog, SearchResult, random_search, retrain, search,
                     similar_dcgan, top_k)
from .shared import DynamicReset, reward, timed_reward, train_shared
