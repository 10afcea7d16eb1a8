# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Improved Techniques for Training GANs
#
# *Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen (2016).* Official code: `openai/improved-gan`.
#
# Training a GAN looks for a Nash equilibrium with gradient descent, which need not converge. The
# paper proposes five heuristics that encourage convergence, and a score for samples:
#
# | § | technique | idea |
# |---|---|---|
# | 3.1 | **feature matching** (FM) | G matches the statistics of an intermediate layer of D: $\lVert \mathbb{E}_x f(x) - \mathbb{E}_z f(G(z)) \rVert_2^2$ |
# | 3.2 | **minibatch discrimination** (MBD) | D sees the whole minibatch: $M_i = f(x_i)T$, $c_b(x_i,x_j) = e^{-\lVert M_{i,b}-M_{j,b}\rVert_{L_1}}$, $o(x_i)_b = \sum_j c_b(x_i,x_j)$ joins $f(x_i)$ |
# | 3.3 | **historical averaging** (HA) | each player adds $\lVert\theta - \frac1t\sum_{i=1}^t \theta[i]\rVert^2$ to its cost |
# | 3.4 | **one-sided label smoothing** (LS) | D's target for real data is 0.9, for fakes stays 0 |
# | 3.5 | **virtual batch norm** (VBN) | each example is normalised with a fixed reference batch's statistics plus its own |
# | 4 | **Inception Score** | $\exp \mathbb{E}_x \mathrm{KL}(p(y\mid x) \,\Vert\, p(y))$ |
#
# We ablate them like the paper's Table 3 — baseline, each technique alone, all together, and all
# minus one — on the 2D mixtures (modes covered, % high quality) and on images (MNIST in the smoke
# profile, CIFAR-10 in the course profile; IS and FID with the named extractor).

# %% tags=["parameters"]
profile = "smoke"
device = "auto"
seed = 0
data_root = "../data"
out_dir = "../runs/manual/02_improved_techniques"
extractor = "course"      # course | inception | inception:PATH
ha_weight = 0.01          # historical averaging weight (the paper gives none)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from gancourse import data, extractors, improved, layers, losses, metrics, models, profiles, viz
from gancourse.results import Claims, at_least, at_most

cfg = profiles.settings("02_improved_techniques", profile)
dev = profiles.pick_device(device, profile)
profiles.seed_everything(seed)
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
rows = improved.ablation_rows()
print(f"profile {profile} on {profiles.describe(dev)}; {len(rows)} rows: {', '.join(rows)}")

# %% [markdown]
# ## Claims, fixed before the run
# * **I1** (§3.2) minibatch discrimination lets D see a collapsed batch, so G covers more modes: on the
#   25-Gaussian grid, +MBD covers at least one mode more than the baseline.
# * **I2** (§3.1) feature matching gives G a stationary target and keeps training stable: +FM covers
#   at least as many grid modes as the baseline.
# * **I3** (Table 3) all techniques together score at least as high an IS as the baseline.
# * **I4** (Table 3) removing minibatch discrimination hurts most: of the "all minus one" rows,
#   all −MBD has the lowest IS (measured: its IS minus the lowest of the other four, ≤ 0).

# %%
claims = Claims("02_improved_techniques", "improved", profile, dev, seed, out)
claims.declare("I1", "+MBD covers more grid modes than the baseline (difference in modes)",
               paper="§3.2 (qualitative)", criterion=at_least(1), unit="modes")
claims.declare("I2", "+FM covers at least as many grid modes as the baseline (difference)",
               paper="§3.1 (qualitative)", criterion=at_least(0), unit="modes")
claims.declare("I3", f"all techniques vs baseline on {cfg.images}: IS ratio",
               paper="Table 3: all 8.09 (CIFAR-10)", criterion=at_least(1.0), unit="×")
claims.declare("I4", "all −MBD has the lowest IS of the all-minus-one rows: IS(−MBD) − min(others)",
               paper="Table 3: −MBF 3.87, lowest", criterion=at_most(0.0), unit="IS")

# %% [markdown]
# ## The techniques in code
# Each is a few lines in one place; `gancourse.improved` only switches them on.

# %%
viz.show_source(losses.feature_matching, layers.MinibatchDiscrimination, losses.HistoricalAveraging)

# %%
viz.show_source(layers.VirtualBatchNorm.forward, improved.apply)

# %% [markdown]
# A quick look at what minibatch discrimination measures: for a collapsed batch every
# $c_b(x_i, x_j) = 1$, so $o(x_i)$ reaches its maximum $n-1$; for a diverse batch it is small.

# %%
mbd = layers.MinibatchDiscrimination(8, kernels=4, kernel_dim=3)
with torch.no_grad():
    o_same = mbd(torch.ones(16, 8))[:, 8:].mean().item()
    o_diverse = mbd(torch.randn(16, 8) * 5)[:, 8:].mean().item()
print(f"mean o(x): collapsed batch {o_same:.2f} (max {16 - 1}), diverse batch {o_diverse:.2f}")

# %% [markdown]
# ## 1 · Ablation on the 2D mixtures
# MLP G (BatchNorm after each hidden layer, so that VBN has something to replace) and D, the
# non-saturating loss, Adam (lr `toy_lr`, β = (0.5, 0.9)).

# %%
toy = {}
for mix_name in cfg.toy_mixtures.split(","):
    mix = data.mixture(mix_name)
    x = mix.sample(50_000, device=dev)
    torch.manual_seed(seed)
    G0, D0 = models.MLPGenerator(2, cfg.toy_hidden, norm="bn"), models.MLPDiscriminator(2, cfg.toy_hidden)
    for row, techniques in rows.items():
        tr = improved.train_row(row, techniques, G0, D0, x, cfg.toy_steps, cfg.toy_batch, device=dev, seed=seed,
                                out_dir=out / "toy" / f"{mix_name}-{row.replace(' ', '')}", ha_weight=ha_weight,
                                mbd_kernels=cfg.mbd_kernels,
                                lr=cfg.toy_lr, betas=(0.5, 0.9), z_dim=2, log_every=max(1, cfg.toy_steps // 50))
        toy[mix_name, row] = (tr, metrics.mode_coverage(tr.sample(cfg.toy_eval), mix))

for mix_name in cfg.toy_mixtures.split(","):
    mix = data.mixture(mix_name)
    fig, axes = plt.subplots(2, 6, figsize=(15, 5.4))
    for ax, row in zip(axes.flat, rows):
        tr, cov = toy[mix_name, row]
        viz.scatter_2d(tr.sample(cfg.toy_eval), mix, ax=ax, title=f"{row}\n{cov['modes']}/{cov['n_modes']}, {cov['hq']:.0%} HQ")
    fig.suptitle(mix_name); fig.tight_layout(); fig.savefig(out / f"ablation_{mix_name}.png", dpi=110)

print(f"{'row':12s} " + " ".join(f"{m:>22s}" for m in cfg.toy_mixtures.split(",")))
for row in rows:
    cells = [toy[m, row][1] for m in cfg.toy_mixtures.split(",")]
    print(f"{row:12s} " + " ".join(f"{c['modes']:>6d}/{c['n_modes']:<3d} modes {c['hq']:>6.1%} HQ" for c in cells))

# %% [markdown]
# ## 2 · Ablation on images
# DCGAN G and D (BatchNorm in G becomes VBN where switched on), non-saturating loss, Adam 2e-4,
# β₁ = 0.5. Inception Score and FID against real test images, with the extractor named. The
# paper's CIFAR-10 rows used a semi-supervised D with labels ("−L" rows) that this unconditional
# ablation does not have; its numbers stand beside ours where the rows match.

# %%
train = data.load_images(cfg.images, "train", data_root, profile)
test = data.load_images(cfg.images, "test", data_root, profile)
x_train = train.float(dev)
channels, size = train.shape[0], train.shape[1]
ex = extractors.get_extractor(extractor, train, test, data_root, dev, epochs=cfg.extractor_epochs)
n_eval = min(cfg.img_eval, len(test))
real_ref = metrics.image_metrics(test.images[:n_eval], train.subset(n_eval, seed).images, ex, dev)
print("real train vs test:", metrics.format_metrics(real_ref))

torch.manual_seed(seed)
G0 = models.DCGANGenerator(100, cfg.img_width, channels, size)
D0 = models.DCGANDiscriminator(cfg.img_width, channels, size)
models.dcgan_init(G0), models.dcgan_init(D0)
img = {}
for row, techniques in rows.items():
    tr = improved.train_row(row, techniques, G0, D0, x_train, cfg.img_steps, cfg.img_batch, device=dev, seed=seed,
                            out_dir=out / "images" / row.replace(" ", ""), ha_weight=ha_weight,
                            mbd_kernels=cfg.mbd_kernels,
                            lr=2e-4, betas=(0.5, 0.999), log_every=max(1, cfg.img_steps // 50))
    fake = data.to_uint8(tr.sample(z=tr.noise(n_eval))).cpu()
    img[row] = (tr, metrics.image_metrics(test.images[:n_eval], fake, ex, dev))
    print(f"{row:12s}", metrics.format_metrics(img[row][1]).split("[")[0])

# %%
PAPER_IS = {"real data": 11.24, "all": 8.09, "all −VBN": 7.54, "all −LS": 6.83, "all −MBD": 3.87}
print(f"extractor: {ex.name}\n")
print(f"{'row':12s} {'IS (ours)':>10s} {'FID (ours)':>11s} {'IS (paper, CIFAR-10)':>21s}")
print(f"{'real data':12s} {real_ref['is']:>10.2f} {real_ref['fid']:>11.2f} {PAPER_IS['real data']:>21.2f}")
for row, (_, m) in img.items():
    paper = PAPER_IS.get(row)
    print(f"{row:12s} {m['is']:>10.2f} {m['fid']:>11.2f} {('' if paper is None else f'{paper:.2f}'):>21s}")
if not ex.name.startswith("Inception"):
    print("\nOur IS uses the course's own classifier, not Inception: compare rows with each other, not with the paper.")

fig, axes = plt.subplots(2, 6, figsize=(18, 6.6))
for ax, (row, (tr, m)) in zip(axes.flat, img.items()):
    viz.show_grid(tr.sample()[:36], nrow=6, ax=ax, title=f"{row}: IS {m['is']:.2f}")
fig.tight_layout(); fig.savefig(out / "ablation_images.png", dpi=110)

# %% [markdown]
# ## Claims table

# %%
grid = {row: toy["grid25", row][1]["modes"] for row in rows}
is_ = {row: m["is"] for row, (_, m) in img.items()}
minus = {row: v for row, v in is_.items() if row.startswith("all −")}
claims.measure("I1", grid["+MBD"] - grid["baseline"], detail=f"{grid['+MBD']} vs {grid['baseline']}")
claims.measure("I2", grid["+FM"] - grid["baseline"], detail=f"{grid['+FM']} vs {grid['baseline']}")
claims.measure("I3", is_["all"] / is_["baseline"], detail=f"IS {is_['all']:.2f} vs {is_['baseline']:.2f}")
claims.measure("I4", minus["all −MBD"] - min(v for k, v in minus.items() if k != "all −MBD"),
               detail=", ".join(f"{k[5:]} {v:.2f}" for k, v in minus.items()))
claims.show()
print("results:", claims.save(extractor=ex.name, images=train.source,
                              toy={f"{m}/{r}": {k: v for k, v in c.items() if k != "counts"} for (m, r), (_, c) in toy.items()},
                              image_rows={r: m for r, (_, m) in img.items()}, real_reference=real_ref))

# %% [markdown]
# ## Exercises
#
# **E1.** Write minibatch discrimination's $o(x_i)_b = \sum_{j \ne i} \exp(-\lVert M_{i,b} - M_{j,b}\rVert_{L_1})$
# for $M$ of shape (n, B, C). The check compares with `gancourse.layers.MinibatchDiscrimination`.

# %%
def my_minibatch_features(M):
    ### BEGIN SOLUTION
    l1 = (M.unsqueeze(0) - M.unsqueeze(1)).abs().sum(-1)        # (n, n, B)
    return torch.exp(-l1).sum(1) - 1.0                           # drop j = i, where exp(0) = 1
    ### END SOLUTION


_mbd = layers.MinibatchDiscrimination(6, kernels=4, kernel_dim=3)
_f = torch.randn(10, 6)
with torch.no_grad():
    _expect = _mbd(_f)[:, 6:] - _mbd.bias
    _got = my_minibatch_features((_f @ _mbd.T).view(10, 4, 3))
assert torch.allclose(_got, _expect, atol=1e-5), "o(x) differs"
print("E1 passed")

# %% [markdown]
# **E2.** Write the one-sided label-smoothed D loss on logits (real target 0.9, fake target 0).
# Why one-sided? Smoothing the fake target too would reward D for putting mass where G is but the
# data is not (§3.4).

# %%
def my_smoothed_d_loss(d_real, d_fake, alpha=0.9):
    ### BEGIN SOLUTION
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    return bce(d_real, torch.full_like(d_real, alpha)) + bce(d_fake, torch.zeros_like(d_fake))
    ### END SOLUTION


_r, _f2 = torch.randn(100) * 3, torch.randn(100) * 3
assert torch.allclose(my_smoothed_d_loss(_r, _f2), losses.d_loss("non_saturating", _r, _f2, real_target=0.9), atol=1e-5)
print("E2 passed")
