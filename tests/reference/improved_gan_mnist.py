"""A line-for-line PyTorch port of the official semi-supervised MNIST code of Salimans et al. (2016),
"Improved Techniques for Training GANs": openai/improved-gan @ 0fa06b5,
``mnist_svhn_cifar10/train_mnist_feature_matching.py`` (the script) and ``mnist_svhn_cifar10/nn.py``
(its layers, loss helpers and Adam). A test-side reference oracle; it imports nothing from gancourse.

What the official code does, as ported here (one line each; "official:" quotes its line):
- seeds: rng = RandomState(seed); theano_rng seeded by rng.randint(2**15); lasagne rng = RandomState(rng.randint(2**15)); data_rng = RandomState(seed_data) (here seed_data = seed).
- weights: drawn from the lasagne rng in the official construction order (G's three GlorotUniform W, then D's noise-layer seeds and thetas), so the initial weights equal the official ones for the same seed.
- noise: Theano's MRG streams cannot be reproduced; each noise layer gets a torch.Generator seeded by its official lasagne-rng draw, z by the theano_rng seed.
- D input: GaussianNoiseLayer σ=0.3 (active whenever deterministic=False, i.e. in every training pass, the init pass and feature matching).
- D hidden: nn.DenseLayer 1000-500-250-250-250, ReLU (max(x,0)), W = θ·g/sqrt(Σθ²) (no ε), θ ~ N(0, 0.1²), g = 1, b = 0.
- D hidden scales g: train_scale=False, i.e. not trainable: set once by the data-dependent init, then fixed (and not averaged).
- D noise: GaussianNoiseLayer σ=0.5 after each hidden layer (5 of them).
- D output: nn.DenseLayer 10 units, no nonlinearity, train_scale=True (g trained and averaged).
- data-dependent init: one pass of trainx[:500] (500 random pool images after data_rng's permutation, not the labels), noise on; each layer: act=x·W, m=mean, stdv=sqrt(mean((act-m)²)) (biased, no ε); g ← g/stdv, b ← -m/stdv.
- G: z ~ U[0,1)^100 (theano_rng.uniform), a fresh draw in every D step and every G step.
- G: LL.DenseLayer 500 (GlorotUniform W, its bias removed) → nn.batch_norm(g=None): batch mean/biased var, /sqrt(1e-6+var), + trainable shift b (no scale) → softplus; twice.
- G: BN running averages are computed but never applied (bn_updates are not in any function's updates) and G is never run deterministic: batch statistics always.
- G out: LL.DenseLayer 784 sigmoid (GlorotUniform W, b=0) under nn.l2normalize: W = W·s/sqrt(1e-6+ΣW²), s = 1 trainable. No data-dependent init in G (no init_updates).
- l_lab: -mean(l[y]) + mean(lse(l)) on the labelled batch (cross-entropy); lse is nn.log_sum_exp (max-shifted).
- l_unl: -0.5·mean(lse(unl)) + 0.5·mean(softplus(lse(unl))) + 0.5·mean(softplus(lse(fake))); D minimises l_lab + 1.0·l_unl (unlabeled_weight=1).
- three separate D passes (labelled, unlabelled, fake), each with its own noise; gradients reach D's trainable params only.
- G loss: mean((mean f(G(z)) - mean f(x_unl2))²) over the 250 features, f = output of layers[-3] = last hidden DenseLayer (after ReLU, before its noise), noise on in f.
- Adam (nn.adam_updates): m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²; p -= lr·(m/(1-β1^t)) / sqrt(v/(1-β2^t) + 1e-8) (ε inside the sqrt); β1=0.5, β2=0.999; t from 1; one Adam (own t) for D, one for G.
- lr: 0.003, constant: the MNIST script has no decay (it sets lr = 0.003 once before the epoch loop).
- averaging: a starts at 0·p (zeros, not p); a ← a + 1e-4·(p - a) with p the value before the same step's Adam update (Theano updates are simultaneous); trainable D params only.
- test error: averaged params (givens), deterministic=True (no noise), mean over int(N/100) batches of 100.
- epoch: labelled set tiled N_unl//100 times, each copy in its own rng.permutation order; then trainx_unl and trainx_unl2 are each re-permuted by rng (permutations compound); nr_batches = int(N_unl/batch_size).
- iteration t: one D step on (lab batch t, unl batch t, fresh z), then one G step on (unl2 batch t, fresh z), in that order; 300 epochs officially.
- unlabelled pool: the whole training set, labelled images included (trainx_unl = trainx.copy() before selection).
Here: the 100 labels are given by the caller (the official picks the first `count` of each class after data_rng's permutation); errors are reported per 10,000 test images every ``eval_every`` steps instead of once per epoch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def log_sum_exp(x):                       # nn.log_sum_exp(x, axis=1)
    m = x.max(1).values
    return m + torch.log(torch.exp(x - m[:, None]).sum(1))


class Noise:                              # nn.GaussianNoiseLayer
    def __init__(self, sigma, lasagne_rng):
        self.sigma = sigma
        self.gen = torch.Generator().manual_seed(int(lasagne_rng.randint(1, 2147462579)))

    def __call__(self, x, deterministic):
        if deterministic or self.sigma == 0:
            return x
        return x + self.sigma * torch.randn(x.shape, generator=self.gen)


class Dense:                              # nn.DenseLayer (weight-normalised, data-dependent init)
    def __init__(self, n_in, n_out, lasagne_rng, train_scale=False, relu=True):
        self.theta = torch.tensor(lasagne_rng.normal(0.0, 0.1, size=(n_in, n_out)), dtype=torch.float32)
        self.weight_scale = torch.ones(n_out)
        self.b = torch.zeros(n_out)
        self.train_scale, self.relu = train_scale, relu

    def params(self):                     # LL.get_all_params(trainable=True) order: theta, (weight_scale), b
        return [self.theta, self.weight_scale, self.b] if self.train_scale else [self.theta, self.b]

    def __call__(self, x, p, init=False):
        theta, scale, b = (p[0], p[1], p[2]) if self.train_scale else (p[0], self.weight_scale, p[1])
        act = x @ (theta * (scale / torch.sqrt((theta ** 2).sum(0)))[None, :])
        if init:
            ma = act.mean(0)
            act = act - ma
            stdv = torch.sqrt((act ** 2).mean(0))
            act = act / stdv
            self.weight_scale.copy_(self.weight_scale / stdv)
            self.b.copy_(-ma / stdv)
        else:
            act = act + b
        return torch.clamp_min(act, 0) if self.relu else act


class Discriminator:
    def __init__(self, lasagne_rng):
        self.layers = [Noise(0.3, lasagne_rng)]
        n_in = 784
        for n in (1000, 500, 250, 250, 250):
            self.layers += [Dense(n_in, n, lasagne_rng), Noise(0.5, lasagne_rng)]
            n_in = n
        self.layers.append(Dense(n_in, 10, lasagne_rng, train_scale=True, relu=False))
        self.dense = [l for l in self.layers if isinstance(l, Dense)]

    def params(self):
        return [p for l in self.dense for p in l.params()]

    def __call__(self, x, params=None, deterministic=False, init=False, upto=None):
        """upto=-3: the output of layers[-3] (feature matching); params: e.g. the averaged ones."""
        it = iter(self.params() if params is None else params)
        for layer in self.layers[: len(self.layers) + 1 + upto if upto else None]:
            if isinstance(layer, Dense):
                x = layer(x, [next(it) for _ in layer.params()], init=init)
            else:
                x = layer(x, deterministic)
        return x


def glorot_uniform(n_in, n_out, lasagne_rng):  # lasagne.init.GlorotUniform(), gain 1
    a = np.sqrt(3) * np.sqrt(2.0 / (n_in + n_out))
    return torch.tensor(lasagne_rng.uniform(low=-a, high=a, size=(n_in, n_out)), dtype=torch.float32)


class Generator:
    def __init__(self, lasagne_rng, z_gen):
        self.W1, self.b1 = glorot_uniform(100, 500, lasagne_rng), torch.zeros(500)   # BN shift b
        self.W2, self.b2 = glorot_uniform(500, 500, lasagne_rng), torch.zeros(500)
        self.W3, self.b3 = glorot_uniform(500, 784, lasagne_rng), torch.zeros(784)
        self.W3_scale = torch.ones(784)                                             # l2normalize
        self.z_gen = z_gen

    def params(self):
        return [self.W1, self.b1, self.W2, self.b2, self.W3, self.b3, self.W3_scale]

    @staticmethod
    def batch_norm(h, b):                 # nn.BatchNormLayer(g=None), deterministic=False
        centered = h - h.mean(0)
        return centered / torch.sqrt(1e-6 + (centered ** 2).mean(0)) + b

    def __call__(self, n):
        z = torch.rand(n, 100, generator=self.z_gen)
        h = F.softplus(self.batch_norm(z @ self.W1, self.b1))
        h = F.softplus(self.batch_norm(h @ self.W2, self.b2))
        W = self.W3 * (self.W3_scale / torch.sqrt(1e-6 + (self.W3 ** 2).sum(0)))[None, :]
        return torch.sigmoid(h @ W + self.b3)


class Adam:                               # nn.adam_updates
    def __init__(self, params, mom1=0.5, mom2=0.999):
        self.params, self.mom1, self.mom2, self.t = params, mom1, mom2, 1.0
        self.v = [torch.zeros_like(p) for p in params]
        self.mg = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads, lr):
        for p, g, v, mg in zip(self.params, grads, self.v, self.mg):
            v.mul_(self.mom1).add_((1.0 - self.mom1) * g)
            mg.mul_(self.mom2).add_((1.0 - self.mom2) * g * g)
            v_hat = v / (1.0 - self.mom1 ** self.t)
            mg_hat = mg / (1.0 - self.mom2 ** self.t)
            p.sub_(lr * v_hat / torch.sqrt(mg_hat + 1e-8))
        self.t += 1.0


def loss_lab_fn(out_lab, labels):
    return -out_lab[torch.arange(len(labels)), labels].mean() + log_sum_exp(out_lab).mean()


def loss_unl_fn(out_unl, out_fake):
    l_unl = log_sum_exp(out_unl)
    return (-0.5 * l_unl.mean() + 0.5 * F.softplus(log_sum_exp(out_unl)).mean()
            + 0.5 * F.softplus(log_sum_exp(out_fake)).mean())


@torch.no_grad()
def test_error(D, x, y, params=None, batch_size=100):
    """Errors per 10,000 over int(N/batch_size) test batches (the mean of the official per-batch
    means, batches being equal), deterministic (no noise)."""
    nb = len(x) // batch_size
    wrong = sum((D(x[t * batch_size:(t + 1) * batch_size], params, deterministic=True).argmax(1)
                 != y[t * batch_size:(t + 1) * batch_size]).sum().item() for t in range(nb))
    return 1e4 * wrong / (nb * batch_size)


def _flat(x):
    return torch.as_tensor(x).float().reshape(len(x), 784).contiguous()


def train(x_unl, x_lab, y_lab, x_test, y_test, steps, seed=0, eval_every=500, batch_size=100, progress=None):
    """Images in [0, 1], (N, 784) or (N, 1, 28, 28); ``steps`` D/G iterations; returns a record every
    ``eval_every`` steps (losses averaged over the steps since the previous record, as the official
    averages over an epoch). ``progress``: a callable given each record."""
    x_unl, x_lab, x_test = _flat(x_unl), _flat(x_lab), _flat(x_test)
    y_lab, y_test = torch.as_tensor(y_lab).long(), torch.as_tensor(y_test).long()
    rng = np.random.RandomState(seed)
    z_gen = torch.Generator().manual_seed(int(rng.randint(2 ** 15)))   # official: theano_rng = MRG_RandomStreams(...)
    lasagne_rng = np.random.RandomState(rng.randint(2 ** 15))
    data_rng = np.random.RandomState(seed)                              # official: seed_data (here = seed)
    G = Generator(lasagne_rng, z_gen)                                   # gen_layers are built first, then D
    D = Discriminator(lasagne_rng)

    inds = data_rng.permutation(len(x_unl))        # official: inds = data_rng.permutation(trainx.shape[0])
    with torch.no_grad():
        D(x_unl[inds[:500]], init=True)            # official: init_param(trainx[:500]), noise on
    disc_params, gen_params = D.params(), G.params()
    for p in disc_params + gen_params:
        p.requires_grad_(True)
    disc_avg = [torch.zeros_like(p) for p in disc_params]               # official: 0.*p.get_value()
    adam_d, adam_g = Adam(disc_params), Adam(gen_params)
    lr = 0.003                                                          # constant: no decay in the MNIST script

    order_unl, order_unl2 = np.arange(len(x_unl)), np.arange(len(x_unl))
    nr_batches_train = int(len(x_unl) / batch_size)
    records, sums, step = [], dict(l_lab=0.0, l_unl=0.0, fm_loss=0.0), 0
    while step < steps:
        # construct randomly permuted minibatches (official, per epoch)
        lab_order = np.concatenate([rng.permutation(len(x_lab)) for _ in range(len(x_unl) // len(x_lab))])
        order_unl = order_unl[rng.permutation(len(x_unl))]
        order_unl2 = order_unl2[rng.permutation(len(x_unl))]
        for t in range(nr_batches_train):
            if step >= steps:
                break
            sl = slice(t * batch_size, (t + 1) * batch_size)
            # train_batch_disc
            xl, yl, xu = x_lab[lab_order[sl]], y_lab[lab_order[sl]], x_unl[order_unl[sl]]
            with torch.no_grad():
                fake = G(batch_size)
            ll, lu = loss_lab_fn(D(xl), yl), loss_unl_fn(D(xu), D(fake))
            grads = torch.autograd.grad(ll + 1.0 * lu, disc_params)
            with torch.no_grad():
                for a, p in zip(disc_avg, disc_params):                 # with p before this step's update
                    a.add_(0.0001 * (p - a))
            adam_d.step(grads, lr)
            # train_batch_gen
            xu2 = x_unl[order_unl2[sl]]
            mom_gen = D(G(batch_size), upto=-3).mean(0)
            with torch.no_grad():
                mom_real = D(xu2, upto=-3).mean(0)
            loss_gen = ((mom_gen - mom_real) ** 2).mean()
            adam_g.step(torch.autograd.grad(loss_gen, gen_params), lr)

            step += 1
            sums["l_lab"] += ll.item()
            sums["l_unl"] += lu.item()
            sums["fm_loss"] += loss_gen.item()
            if step % eval_every == 0 or step == steps:
                n = step - (records[-1]["step"] if records else 0)
                rec = dict(step=step, err_avg=test_error(D, x_test, y_test, disc_avg),
                           err_raw=test_error(D, x_test, y_test), **{k: v / n for k, v in sums.items()})
                sums = dict.fromkeys(sums, 0.0)
                records.append(rec)
                if progress is not None:
                    progress(rec)
    return records
