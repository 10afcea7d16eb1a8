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
# | 5 | **labels** (L) | D is a $K{+}1$ classifier: $K$ logits $l(x)$ with $l_{K+1} = 0$, so $D(x) = \frac{Z(x)}{Z(x)+1}$, $Z = \sum_k e^{l_k}$, and labelled images add $-\log p(y \mid x)$ |
# | 4 | **Inception Score** | $\exp \mathbb{E}_x \mathrm{KL}(p(y\mid x) \,\Vert\, p(y))$ |
#
# Two experiments. On the 2D mixtures, where mode collapse is visible, what minibatch discrimination and
# feature matching do to mode coverage (baseline, +MBD, +FM). On images, **the paper's Table 3 as it
# ran it**: "Our methods" is every technique *except* feature matching and historical averaging, with
# labels (minibatch discrimination, one-sided label smoothing, virtual batch norm, the $K{+}1$ classifier
# of notebook 03 trained on labelled images); each other row takes one thing away — −VBN+BN, −LS, −L,
# −MBF — or swaps the labels for historical averaging (−L+HA). MNIST in the smoke and laptop profiles,
# CIFAR-10 (the paper's data) in the course profile; IS and FID with the named extractor.

# %% tags=["parameters"]
profile = "smoke"         # smoke | laptop | course | paper
device = "auto"
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}            # any setting of the profile, e.g. {"img_steps": 500}
claim_ids = ""          # only these claims, e.g. "A1,A3" (gancourse run --claims): other sections are skipped
extractor = "course"      # course | inception | inception:PATH
ha_weight = 0.01          # historical averaging weight (the paper gives none)

# %% [markdown]
# *Outside a checkout of the course (Colab, this notebook on its own) the next cell installs the course
# first; in a checkout, and under papermill or nbval, it does nothing.*

# %%
import importlib
import importlib.util
import os
import subprocess
import sys

COURSE_REPOSITORY = ""   # the course's public address: python -m gancourse.course.book repository URL
if importlib.util.find_spec("gancourse") is None:             # not in a checkout, not installed: install it
    source = os.environ.get("GANCOURSE_INSTALL") or (COURSE_REPOSITORY and f"git+{COURSE_REPOSITORY}")
    if not source:
        raise RuntimeError("the course is not installed in this kernel: `pip install` it (or set "
                           "GANCOURSE_INSTALL to what pip should install), or open the notebook from a "
                           "checkout with `make lab`")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
    importlib.invalidate_caches()

# %%
import matplotlib.pyplot as plt
import torch

from gancourse import data, seeding
from gancourse.course import exercises, notebook, viz
from gancourse.instruments import extractors, metrics
from gancourse.papers import improved, mixtures, ssl
from gancourse.nn import layers, models
from gancourse.training import losses
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("02_improved_techniques", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, out, claims, data_root = run.cfg, run.device, run.out, run.claims, run.data_root
toy_rows = {"baseline": (), "+MBD": ("MBD",), "+FM": ("FM",)}
draws = range(cfg.eval_draws)
print("2D rows:", ", ".join(toy_rows), "\nTable 3 rows:", ", ".join(f"{k} ({'+'.join(v)})" for k, v in improved.TABLE3.items()))

# %% [markdown]
# ## Claims, fixed before the run
# * **I1** (§3.2) minibatch discrimination lets D see a collapsed batch, so G covers more modes: on the
#   25-Gaussian grid, +MBD covers at least one mode more than the baseline.
# * **I2** (§3.1) feature matching gives G a stationary target and keeps training stable: +FM covers
#   at least as many grid modes as the baseline.
#
# Table 3's rows, claims restated from what the paper says of them (its IS on CIFAR-10 beside each):
# * **I3** "−MBF … incurs a very large drop in performance, greater even than the drop resulting from
#   removing the labels": −MBF has the lowest IS of the six GAN rows (its IS minus the lowest of the other
#   five ≤ 0; paper 3.87, the next lowest −L 4.36).
# * **I4** "HA makes it possible to still generate some recognizable objects. Without HA, sample quality is
#   considerably reduced": −L+HA scores a higher IS than −L (ratio ≥ 1; paper 6.86 / 4.36).
# * **I5** "−LS … incurs a noticeable drop in performance relative to our methods": IS of −LS / Our methods
#   ≤ 1 (paper 6.83 / 8.09).
# * **I6** "−VBN+BN … causes a small decrease in sample quality on CIFAR": IS of −VBN+BN / Our methods ≤ 1
#   (paper 7.54 / 8.09).
# * **I7** the labels help (−L is the paper's second-largest drop): IS of −L / Our methods ≤ 1 (paper 4.36 / 8.09).
#
# Each comparison is measured on `eval_draws` paired draws (both rows evaluated on the same draw of
# noise); a criterion holds only if the whole interval mean ± sd of the difference (or ratio) meets it.

# %%
TOY, T3_ROWS = "I1/I2: the 2D rows", "I3–I7: Table 3's rows"
claims.declare("I1", "+MBD covers more grid modes than the baseline (difference in modes)",
               paper="§3.2 (qualitative)", criterion=at_least(1, margin=True), unit="modes", shares_run=TOY)
claims.declare("I2", "+FM covers at least as many grid modes as the baseline (difference)",
               paper="§3.1 (qualitative)", criterion=at_least(0, margin=True), unit="modes", shares_run=TOY)
claims.declare("I3", "Table 3: −MBF has the lowest IS of the GAN rows: IS(−MBF) − lowest of the others",
               paper="Table 3: −MBF 3.87, lowest (next: −L 4.36)", criterion=at_most(0.0, margin=True), unit="IS", shares_run=T3_ROWS)
claims.declare("I4", "Table 3: −L+HA above −L: IS ratio", criterion=at_least(1.0, margin=True), unit="×", shares_run=T3_ROWS,
               **improved.paper_ratio("−L+HA", "−L"))
claims.declare("I5", "Table 3: −LS below Our methods: IS ratio", criterion=at_most(1.0, margin=True), unit="×", shares_run=T3_ROWS,
               **improved.paper_ratio("−LS", "Our methods"))
claims.declare("I6", "Table 3: −VBN+BN below Our methods: IS ratio", criterion=at_most(1.0, margin=True), unit="×", shares_run=T3_ROWS,
               **improved.paper_ratio("−VBN+BN", "Our methods"))
claims.declare("I7", "Table 3: −L below Our methods: IS ratio", criterion=at_most(1.0, margin=True), unit="×", shares_run=T3_ROWS,
               **improved.paper_ratio("−L", "Our methods"))

# %% [markdown]
# ## The techniques in code
# Each is a few lines in one place; `gancourse.papers.improved` only switches them on.

# %%
viz.show_source(losses.feature_matching, layers.MinibatchDiscrimination, losses.HistoricalAveraging)

# %%
viz.show_source(layers.VirtualBatchNorm.forward, improved.KPlusOneD, improved.apply)

# %% [markdown]
# A quick look at what minibatch discrimination measures: for a collapsed batch every
# $c_b(x_i, x_j) = 1$, so $o(x_i)$ reaches its maximum $n-1$; for a diverse batch it is small.

# %%
mbd = layers.MinibatchDiscrimination(8, kernels=4, kernel_dim=3)
with torch.no_grad():
    o_same = (mbd(torch.ones(16, 8))[:, 8:] - mbd.bias).mean().item()       # o(x), before the bias
    o_diverse = (mbd(torch.randn(16, 8) * 5)[:, 8:] - mbd.bias).mean().item()
print(f"mean o(x): collapsed batch {o_same:.2f} (max {16 - 1}), diverse batch {o_diverse:.2f}")

# %% [markdown]
# ## 1 · Mode coverage on the 2D mixtures
# MLP G (BatchNorm after each hidden layer) and D, the non-saturating loss, Adam (lr `toy_lr`,
# β = (0.5, 0.9)): the baseline, with minibatch discrimination, with feature matching.

# %%
# %%feeds I1 I2
toy = {}
for mix_name in cfg.toy_mixtures.split(","):
    mix = data.mixture(mix_name)
    x = mix.sample(50_000, device=dev, generator=seeding.generator(seed, "mixture data"))
    torch.manual_seed(seed)
    G0, D0 = models.MLPGenerator(2, cfg.toy_hidden, norm="bn"), models.MLPDiscriminator(2, cfg.toy_hidden)
    for row, techniques in toy_rows.items():
        tr = improved.train_row(row, techniques, G0, D0, x, cfg.toy_steps, cfg.toy_batch, device=dev, seed=seed,
                                out_dir=out / "toy" / f"{mix_name}-{row.replace(' ', '')}", ha_weight=ha_weight,
                                mbd_kernels=cfg.mbd_kernels, data_id=dict(mixture=mix_name),
                                lr=cfg.toy_lr, betas=(0.5, 0.9), z_dim=2, log_every=max(1, cfg.toy_steps // 50))
        toy[mix_name, row] = (tr, mixtures.coverage(tr, mix, cfg.toy_eval, cfg.eval_draws))

for mix_name in cfg.toy_mixtures.split(","):
    mix = data.mixture(mix_name)
    fig, axes = plt.subplots(1, len(toy_rows), figsize=(4 * len(toy_rows), 4))
    for ax, row in zip(axes.flat, toy_rows):
        tr, cov = toy[mix_name, row]
        viz.scatter_2d(tr.sample(cfg.toy_eval, name="mode coverage"), mix, ax=ax,
                       title=f"{row}\n{cov[0]['modes']}/{cov[0]['n_modes']}, {cov[0]['hq']:.0%} HQ")
    fig.suptitle(mix_name); fig.tight_layout(); fig.savefig(out / f"ablation_{mix_name}.png", dpi=110)

toy_table = [dict(row=row, **{f"{m} modes": summary([c["modes"] for c in toy[m, row][1]]) for m in cfg.toy_mixtures.split(",")},
                  **{f"{m} HQ": summary([c["hq"] for c in toy[m, row][1]]) for m in cfg.toy_mixtures.split(",")})
             for row in toy_rows]
viz.table(toy_table, floatfmt=".3g", title=f"modes covered / share of high-quality samples, {cfg.toy_eval:,} samples × {cfg.eval_draws} draws")
grid = {row: summary([c["modes"] for c in toy["grid25", row][1]])["mean"] for row in toy_rows}
print(f"\nReading: on the grid the baseline keeps {grid['baseline']:.1f} of 25 modes, +MBD {grid['+MBD']:.1f}, "
      f"+FM {grid['+FM']:.1f}. Minibatch discrimination is the one technique aimed at collapse: D sees how alike "
      "the batch is, so a G that puts every sample on one mode is caught.")
modes = lambda row: [c["modes"] for c in toy["grid25", row][1]]
claims.measure("I1", [a - b for a, b in zip(modes("+MBD"), modes("baseline"))], detail=f"{grid['+MBD']:.1f} vs {grid['baseline']:.1f}")
claims.measure("I2", [a - b for a, b in zip(modes("+FM"), modes("baseline"))], detail=f"{grid['+FM']:.1f} vs {grid['baseline']:.1f}")
claims.extra.update(toy={f"{m}/{r}": [{k: v for k, v in c.items() if k != "counts"} for c in cov] for (m, r), (_, cov) in toy.items()})

# %% [markdown]
# ## 2 · Table 3, as the paper ran it
# DCGAN G (BatchNorm, or VBN where switched on) and D; D's head is the $K{+}1$ classifier of notebook 03
# in every row (`KPlusOneD`: minibatch features when switched on, then $K$ logits; the real/fake logit is
# $\log Z(x)$), so the rows differ only in what the paper varied. With labels ("L"), `labels_per_class`
# labelled training images add the supervised loss (the official CIFAR-10 code used 400 per class, 8 %
# of the set; the laptop profile keeps that share). The non-saturating loss, Adam 2e-4, β₁ = 0.5, one G step
# per D step (the official code: the minimax G loss, three G steps per D step, Adam 3e-4, 1,200 epochs).
# Inception Score and FID against real test images, with the extractor named; the paper's IS beside ours.

# %%
# %%feeds I3 I4 I5 I6 I7
train = data.load_images(cfg.images, "train", data_root, profile)
test = data.load_images(cfg.images, "test", data_root, profile)
x_train = train.float(dev)
channels, size = train.shape[0], train.shape[1]
n_classes = int(train.labels.max()) + 1
ex = extractors.get_extractor(extractor, train, test, data_root, dev, epochs=cfg.extractor_epochs)
n_eval = min(cfg.img_eval, len(test), len(train))
real_draws = metrics.real_quality(test, train, ex, n_eval, cfg.eval_draws, dev, seed=seed)
real_ref = metrics.mean_over_draws(real_draws)
print("real train vs test:", metrics.format_metrics(real_ref))
lab = ssl.pick_labels(train.labels, cfg.labels_per_class, seed=seed).to(dev)
labelled = (x_train[lab], train.labels.to(dev)[lab])
print(f"labels: {len(lab):,} of {len(train):,} training images ({cfg.labels_per_class} per class)")

torch.manual_seed(seed)
G0 = models.DCGANGenerator(100, cfg.img_width, channels, size)
D0 = models.DCGANDiscriminator(cfg.img_width, channels, size)
models.dcgan_init(G0), models.dcgan_init(D0)
img = {}
rows = improved.table3_rows(claims.wants)
if len(rows) < len(improved.TABLE3):
    print(f"training Table 3's rows {', '.join(rows)}: the others feed none of the claims this run measures")
for row in rows:
    tr = improved.train_row(row, improved.TABLE3[row], G0, D0, x_train, cfg.img_steps, cfg.img_batch, device=dev, seed=seed,
                            out_dir=out / "table3" / row.replace("−", "minus-").replace("+", "plus-"), ha_weight=ha_weight,
                            mbd_kernels=cfg.mbd_kernels, labelled=labelled, n_classes=n_classes,
                            data_id=dict(train=train.source, labels=len(lab)),
                            lr=2e-4, betas=(0.5, 0.999), log_every=max(1, cfg.img_steps // 50))
    per_draw = metrics.sample_quality(tr, test, ex, n_eval, cfg.eval_draws, dev)
    img[row] = (tr, per_draw)
    print(f"{row:12s}", metrics.format_metrics(metrics.mean_over_draws(per_draw)).split("[")[0])

# %%
# %%feeds I3 I4 I5 I6 I7
print(f"extractor: {ex.name}\n")
img_rows = [dict(row="Real data", IS=summary([d["is"] for d in real_draws]), FID=summary([d["fid"] for d in real_draws]),
                 paper_IS=improved.PAPER_IS["Real data"])]
img_rows += [dict(row=row, IS=summary([d["is"] for d in m]), FID=summary([d["fid"] for d in m]),
                  paper_IS=improved.PAPER_IS[row]) for row, (_, m) in img.items()]
viz.table(img_rows, floatfmt=".3g", title=f"IS and FID over {cfg.eval_draws} draws of {n_eval:,} samples (paper: CIFAR-10, Inception)")
is_ = {r["row"]: r["IS"]["mean"] for r in img_rows}
fig, ax = plt.subplots(figsize=(8, 3.6))
names = list(is_)
ax.bar([i - 0.2 for i in range(len(names))], [is_[n] / is_["Real data"] for n in names], 0.4, label="ours (÷ real data)")
ax.bar([i + 0.2 for i in range(len(names))], [improved.PAPER_IS[n] / improved.PAPER_IS["Real data"] for n in names], 0.4,
       label="paper, CIFAR-10 (÷ real data)")
ax.set_xticks(range(len(names)), names, rotation=20)
ax.set(ylabel="IS ÷ IS of real data", title="Table 3: each row's Inception Score, relative to real data")
ax.legend(fontsize=8); fig.tight_layout(); fig.savefig(out / "table3.png", dpi=110)
gan_rows = [r for r in img if r != "Real data"]
order = sorted(gan_rows, key=is_.get, reverse=True)
paper_order = sorted(gan_rows, key=improved.PAPER_IS.get, reverse=True)
print(f"\nReading: real data score IS {is_['Real data']:.2f}; the GAN rows rank {' > '.join(order)} "
      f"(the paper: {' > '.join(paper_order)})."
      + (f" Our methods reach {is_['Our methods'] / is_['Real data']:.0%} of the real data's IS, the paper's "
         f"{improved.PAPER_IS['Our methods'] / improved.PAPER_IS['Real data']:.0%}." if "Our methods" in is_ else "")
      + ("" if ex.name.startswith("Inception") else
         " Our IS uses the course's own classifier, not Inception: compare rows with each other, not with the paper."))

fig, axes = plt.subplots(1, len(img), figsize=(3.2 * len(img), 3.6), squeeze=False)
for ax, (row, (tr, m)) in zip(axes.flat, img.items()):
    viz.show_grid(tr.sample()[:36], nrow=6, ax=ax, title=f"{row}: IS {is_[row]:.2f}")
fig.tight_layout(); fig.savefig(out / "table3_samples.png", dpi=110)
is_draws = {row: [d["is"] for d in m] for row, (_, m) in img.items()}
ratio = lambda a, b: [x / y for x, y in zip(is_draws[a], is_draws[b])]
others = [row for row in gan_rows if row != "−MBF"]
if claims.wants("I3"):
    claims.measure("I3", [is_draws["−MBF"][i] - min(is_draws[r][i] for r in others) for i in draws],
                   detail=", ".join(f"{k} {is_[k]:.2f}" for k in gan_rows))
for cid in ("I4", "I5", "I6", "I7"):                         # the IS ratio of the two rows each compares
    a, b = improved.TABLE3_CLAIMS[cid]
    if claims.wants(cid):
        claims.measure(cid, ratio(a, b), detail=f"IS {is_[a]:.2f} vs {is_[b]:.2f}")
claims.extra.update(extractor=ex.name, images=train.source, labels=len(lab), table3={r: m for r, (_, m) in img.items()},
                    real_reference=real_draws)

# %% [markdown]
# ## Claims table

# %%
claims.show()
print("results:", claims.save())

# %% [markdown]
# ## Summary
# The 2D rows show what minibatch discrimination and feature matching do to mode coverage; Table 3's rows
# what each of the paper's sample-quality techniques is worth when taken away, under the named extractor.
# The claims table says which of the paper's findings (MBD against collapse, FM as a stable target, −MBF
# the largest drop, HA compensating for the labels, LS, VBN and the labels each helping) held at this scale.
# The paper's IS numbers are CIFAR-10 under Inception: they frame the direction, not the value.
#
# ## Exercises
#
# **E1.** Write minibatch discrimination's $o(x_i)_b = \sum_{j \ne i} \exp(-\lVert M_{i,b} - M_{j,b}\rVert_{L_1})$
# for $M$ of shape (n, B, C). The check compares with `gancourse.nn.layers.MinibatchDiscrimination`.

# %%
def my_minibatch_features(M):
    ### BEGIN SOLUTION
    l1 = (M.unsqueeze(0) - M.unsqueeze(1)).abs().sum(-1)        # (n, n, B)
    return torch.exp(-l1).sum(1) - 1.0                           # drop j = i, where exp(0) = 1
    ### END SOLUTION


# %%
exercises.check("02.E1", my_minibatch_features)

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


# %%
exercises.check("02.E2", my_smoothed_d_loss)
