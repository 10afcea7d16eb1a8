# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Semi-supervised learning with a GAN: the K+1 classifier
#
# *Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen (2016), Improved Techniques for Training
# GANs, §5.* Official code: `openai/improved-gan`, `mnist_svhn_cifar10/train_mnist_feature_matching.py`.
#
# A classifier with $K$ outputs becomes a discriminator by adding a class $K+1$, "generated". Since
# a softmax is unchanged when one adds the same constant to every logit, the extra logit can be fixed
# at $l_{K+1}(x) = 0$. With $Z(x) = \sum_{k=1}^{K} e^{l_k(x)}$:
#
# $$p(y = K+1 \mid x) = \frac{1}{Z(x) + 1}, \qquad D(x) = 1 - p(K+1 \mid x) = \frac{Z(x)}{Z(x)+1} = \sigma\big(\operatorname{logsumexp}_k l_k(x)\big).$$
#
# The discriminator minimises $L = L_\text{supervised} + L_\text{unsupervised}$:
#
# $$L_\text{supervised} = -\mathbb{E}_{x,y\sim p_\text{data}} \log p(y \mid x, y < K+1), \qquad
#   L_\text{unsupervised} = -\mathbb{E}_{x} \log D(x) - \mathbb{E}_{z} \log\big(1 - D(G(z))\big),$$
#
# and with $s = \operatorname{logsumexp}_k l_k$, $-\log D(x) = \operatorname{softplus}(s) - s$ and
# $-\log(1 - D) = \operatorname{softplus}(s)$. $G$ is trained by **feature matching** on $D$'s last
# hidden layer: the paper finds it gives a better classifier, though not better-looking samples.

# %% tags=["parameters"]
profile = "smoke"
device = "auto"
seed = 0
data_root = "../data"
out_dir = "../runs/manual/03_semi_supervised"
labels_per_class = 10        # 10 per class: the 100 labels of the paper
pool_split = "train"         # unlabelled pool, and where the labels come from
test_split = "test"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from gancourse import data, losses, profiles, ssl, training, viz
from gancourse.results import Claims, at_least, at_most

cfg = profiles.settings("03_semi_supervised", profile)
dev = profiles.pick_device(device, profile)
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
n_labels = 10 * labels_per_class
print(f"profile {profile} on {profiles.describe(dev)}; {n_labels} labels; settings: {vars(cfg)}")

# %% [markdown]
# ## Claims, fixed before the run
# * **K1** — with 100 labels, the K+1 GAN with feature matching makes at least 4× fewer test errors
#   than the same network trained on the 100 labels alone (paper: 93 ± 6.5 errors per 10,000;
#   supervised-only networks of this kind make well over 1,000).
# * **K2** — with 100 labels and the full MNIST as unlabelled pool, test error ≤ 2% (≤ 200 per
#   10,000). The paper's 93 comes after 300 epochs; on a smaller pool the verdict says so.

# %%
claims = Claims("03_semi_supervised", "improved", profile, dev, seed, out)
claims.declare("K1", f"K+1 GAN + feature matching vs supervised-only, {n_labels} labels: error ratio",
               paper="93 ± 6.5 errors / 10k (Table 1)", criterion=at_least(4), unit="× fewer errors")
claims.declare("K2", f"K+1 GAN + feature matching, {n_labels} labels: test errors per 10,000",
               paper="93 ± 6.5 (100 labels)", criterion=at_most(200), unit="errors / 10k")

# %% [markdown]
# ## The losses in code

# %%
viz.show_source(ssl.supervised_loss, ssl.unsupervised_loss, ssl.KPlusOneLoss, losses.feature_matching)

# %% [markdown]
# ## Data
# The unlabelled pool is the whole `pool_split`; the labelled set is `labels_per_class` images of
# each class drawn from it (a different draw per seed, as the official `--seed_data`); errors are
# counted on `test_split`. Images are in [0, 1] (G ends in a sigmoid).

# %%
pool = data.load_images("mnist", pool_split, data_root, profile)
test = data.load_images("mnist", test_split, data_root, profile)
x_pool = pool.images.float().div(255).to(dev)
y_pool = pool.labels.to(dev)
x_test, y_test = test.images.float().div(255).to(dev), test.labels.to(dev)
print(f"pool: {len(pool):,} unlabelled images ({pool.source})\ntest: {len(test):,} images ({test.source})")

# %% [markdown]
# ## The networks (the official MNIST set-up)
# D: Gaussian noise σ = 0.3 on the input, weight-normalised dense layers 1000-500-250-250-250 with
# noise σ = 0.5 after each, 10 outputs; the weight scales are set by a data-dependent initialisation
# and only the output layer's is trained. G: 100-d uniform noise → dense 500, BN, softplus → dense
# 500, BN, softplus → 784 sigmoid, weight-normalised. Adam, lr 3e-3, β₁ = 0.5, batch 100; the classifier is
# evaluated with an average of D's weights (the official code: a ← a + 10⁻⁴(θ − a)).

# %%
print(ssl.MNISTClassifier(), ssl.MNISTGenerator(), sep="\n")

# %% [markdown]
# ## Training: K+1 GAN and the supervised-only baseline, over seeds

# %%
runs = []
for s in range(seed, seed + cfg.seeds):
    profiles.seed_everything(s)
    lab = ssl.pick_labels(pool.labels, labels_per_class, seed=s).to(dev)
    # baseline: the same classifier on the labels alone
    base = ssl.MNISTClassifier().to(dev)
    ssl.init_weightnorm(base, x_pool[:500])
    base_avg = ssl.train_supervised(base, x_pool[lab], y_pool[lab], cfg.baseline_steps, cfg.batch)
    base_err = ssl.errors_per_10k(base_avg, x_test, y_test)
    # K+1 GAN with feature matching
    D, G = ssl.MNISTClassifier(), ssl.MNISTGenerator()
    ssl.init_weightnorm(D, x_pool[:500].cpu())      # data-dependent init of D (G has none, as officially)
    tr = training.Trainer(G, D, d_loss_fn=ssl.KPlusOneLoss(x_pool[lab], y_pool[lab], cfg.batch),
                          g_loss_fn=losses.FeatureMatching(), z_dist="uniform", lr=3e-3, betas=(0.5, 0.999),
                          ema_d=0.9999, callbacks=[ssl.TestError(x_test, y_test, cfg.eval_every)],
                          device=dev, seed=s, out_dir=out / f"seed{s}", ckpt_every=max(1, cfg.steps // 5),
                          log_every=cfg.eval_every, desc=f"K+1 seed {s}",
                          run_id=dict(labels=n_labels, pool=pool.source[:60]))
    tr.fit(data.batches(x_pool, cfg.batch), cfg.steps)
    err = ssl.errors_per_10k(tr.D_ema.module, x_test, y_test)
    runs.append(dict(seed=s, ssl=err, baseline=base_err, trainer=tr))
    print(f"seed {s}: K+1 GAN {err:.0f} errors / 10k, supervised-only {base_err:.0f}")

# %%
ssl_err = torch.tensor([r["ssl"] for r in runs])
base_err = torch.tensor([r["baseline"] for r in runs])
std = lambda t: t.std().item() if len(t) > 1 else float("nan")
print(f"{'':22s} {'errors / 10k':>14s}")
print(f"{'paper (K+1 + FM)':22s} {'93 ± 6.5':>14s}")
print(f"{'ours: K+1 + FM':22s} {ssl_err.mean():>7.0f} ± {std(ssl_err):<5.0f}  over {len(runs)} seed(s)")
print(f"{'ours: supervised only':22s} {base_err.mean():>7.0f} ± {std(base_err):<5.0f}")

fig, ax = plt.subplots(figsize=(5, 3))
for r in runs:
    hist = [h for h in r["trainer"].history if "test_err" in h]
    ax.plot([h["step"] for h in hist], [h["test_err"] for h in hist], label=f"K+1, seed {r['seed']}")
    ax.axhline(r["baseline"], ls="--", c="gray")
ax.axhline(93, c="red", lw=0.8, label="paper, 100 labels")
ax.set_yscale("log"); ax.set_xlabel("step"); ax.set_ylabel("test errors / 10k"); ax.legend(fontsize=7)
ax.set_title("averaged D (dashed: supervised only)")
fig.savefig(out / "test_error.png", dpi=120)

# %% [markdown]
# ## What feature matching does to samples
# The generator is trained to match D's feature statistics, not to fool D; the paper notes its
# samples look worse than those of minibatch discrimination while the classifier gets better.

# %%
tr = runs[0]["trainer"]
samples = tr.sample(n=cfg.n_samples, ema=False) * 2 - 1        # show_grid expects [-1, 1]
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
viz.show_grid(samples, nrow=10, ax=axes[0], title="G trained by feature matching")
viz.show_grid(x_pool[: cfg.n_samples] * 2 - 1, nrow=10, ax=axes[1], title="real pool images")
fig.savefig(out / "samples.png", dpi=120)

# %% [markdown]
# ## Claims table

# %%
claims.measure("K1", (base_err.mean() / ssl_err.mean().clamp_min(1)).item(),
               detail=f"{base_err.mean():.0f} vs {ssl_err.mean():.0f}")
claims.measure("K2", ssl_err.mean().item(), detail=f"± {std(ssl_err):.0f} over {len(runs)} seed(s); pool "
               f"{len(pool):,} images")
claims.show()
print("results:", claims.save(pool=pool.source, test=test.source, labels=n_labels,
                              runs=[{k: v for k, v in r.items() if k != "trainer"} for r in runs]))

# %% [markdown]
# ## Exercises
#
# **E1.** Write the unsupervised loss with an explicit (K+1)-way softmax, appending a zero logit for
# the fake class; the check compares it with the logsumexp/softplus form used above.

# %%
def my_unsupervised_loss(logits_real, logits_fake):
    ### BEGIN SOLUTION
    pad = lambda l: torch.cat([l, torch.zeros(len(l), 1, device=l.device)], 1)
    p_fake_real = pad(logits_real).softmax(1)[:, -1]
    log_p_fake_fake = pad(logits_fake).log_softmax(1)[:, -1]
    return -torch.log1p(-p_fake_real).mean() - log_p_fake_fake.mean()
    ### END SOLUTION


_lr, _lf = torch.randn(64, 10) * 3, torch.randn(64, 10) * 3
assert torch.allclose(my_unsupervised_loss(_lr, _lf), ssl.unsupervised_loss(_lr, _lf), atol=1e-4), "not the K+1 loss"
print("E1 passed")

# %% [markdown]
# **E2.** Why may $l_{K+1}$ be fixed at 0? Take K+1 free logits, write the K logits with the same
# class probabilities and $l_{K+1} = 0$; the check compares the two softmaxes.

# %%
def drop_fake_logit(logits_k_plus_1):
    ### BEGIN SOLUTION
    return logits_k_plus_1[:, :-1] - logits_k_plus_1[:, -1:]
    ### END SOLUTION


_l = torch.randn(16, 11) * 4
_k = drop_fake_logit(_l)
assert _k.shape == (16, 10)
assert torch.allclose(torch.cat([_k, torch.zeros(16, 1)], 1).softmax(1), _l.softmax(1), atol=1e-6)
print("E2 passed")
