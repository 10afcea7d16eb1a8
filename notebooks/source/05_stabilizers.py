# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Stabilizers: spectral norm, WGAN-GP, R1, self-attention, BigGAN's lesson, what D learns
#
# *Survey document (Saito, PFN 2018), part 2: from DCGAN to SNGAN, SAGAN and BigGAN.*
#
# GAN training looks for a saddle point with gradient steps, and nothing promises that these converge.
# The survey names the tricks that made it work in practice:
#
# | stabilizer | idea | equation |
# |---|---|---|
# | **WGAN-GP** (Gulrajani et al. 2017) | keep the critic 1-Lipschitz softly | $\lambda\,\mathbb{E}_{\hat x}(\lVert\nabla_{\hat x} D(\hat x)\rVert_2 - 1)^2$ on lines between real and fake, $\lambda = 10$ |
# | **spectral normalisation** (Miyato et al. 2018) | bound every layer's Lipschitz constant | $\bar W = W / \sigma(W)$, $\sigma$ the largest singular value, one power iteration per step |
# | **R1** (Mescheder et al. 2018) | zero-centred penalty on real data | $\frac{\gamma}{2}\,\mathbb{E}_{x\sim p_\text{data}}\lVert\nabla_x D(x)\rVert^2$ |
# | **self-attention** (SAGAN, Zhang et al. 2019) | let distant pixels talk | $y = \gamma\,o + x$, $o_j = \sum_i \mathrm{softmax}_i(f(x_i)^\top g(x_j))\,h(x_i)$, $\gamma$ from 0 |
# | **BigGAN** (Brock et al. 2019) | scale up: batch and width | class-conditional BN in G, a projection D, bigger batches |
#
# This notebook starts with the smallest GAN that shows why training oscillates (the Dirac-GAN),
# trains one SNDCGAN with each stabilizer on the same budget, switches self-attention on and off,
# varies batch size and width on a conditional model, revisits mode collapse, and asks what D's
# features are worth.

# %% tags=["parameters"]
profile = "smoke"      # smoke | laptop | course | paper
device = "auto"
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}         # any setting of the profile, e.g. {"steps": 2000}
claim_ids = ""          # only these claims, e.g. "A1,A3" (gancourse run --claims): other sections are skipped
extractor = "course"   # course | inception | inception:PATH | torchscript:PATH

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
import numpy as np
import torch

from gancourse import data, seeding
from gancourse.papers import dirac, mixtures, stabilizers
from gancourse.course import exercises, notebook, viz
from gancourse.instruments import extractors, metrics, probe
from gancourse.nn import layers, models
from gancourse.training import losses
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("05_stabilizers", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, out, claims, data_root = run.cfg, run.device, run.out, run.claims, run.data_root
draws = range(cfg.eval_draws)

# %% [markdown]
# ## Claims, fixed before the run
# * **T1** (Mescheder et al. 2018, §2.2) on the Dirac-GAN, unregularised alternating gradient steps do
#   not converge: after `dirac_steps` steps the distance to the equilibrium is still at least half the start's.
# * **T2** (ibid., §3.3) with R1 (γ = 1) the same steps converge: the distance falls below 1% of the start's.
# * **T3** (survey; Miyato 2018 Table 2; Gulrajani 2017; Mescheder 2018) the stabilizers beat no
#   stabilizer: of WGAN-GP, SN and R1, how many end with a lower FID than the unregularised run, in every draw.
# * **T4** (Miyato 2018, §2.1) spectral normalisation holds D's layers at σ = 1 where the unregularised
#   D's grow: largest layer σ, unregularised / SN, at the end.
# * **T5** (SAGAN, Table 1) self-attention at 16×16 improves the same model: FID with / without.
# * **T6** (BigGAN, Table 1) a bigger batch gives a better FID at the same number of steps: FID of the
#   largest batch / of the smallest, on the conditional model.
# * **T7** (BigGAN, Table 1) a wider model gives a better FID: FID wide / narrow.
# * **T8** (Radford 2016 §5.1; survey) D's features are worth something: linear-probe accuracy on the
#   classes, trained D / randomly initialised D of the same architecture.
# * **T9** (survey: stabilised GANs cover the data) on the 25-Gaussian grid, the MLP D with spectral
#   normalisation covers at least as many modes as without.
#
# FID and IS use the named extractor (`extractor`), `eval_draws` independent draws of the samples;
# criteria on ratios need the whole interval mean ± sd on their side of 1.

# %%
claims.declare("T1", "Dirac-GAN, no regulariser: distance to equilibrium after the steps / at the start",
               paper="Mescheder 2018 §2.2: does not converge", criterion=at_least(0.5), unit="ratio", kind="check")
claims.declare("T2", "Dirac-GAN with R1 (γ = 1): distance after the steps / at the start",
               paper="Mescheder 2018 §3.3: converges", criterion=at_most(0.01), unit="ratio", kind="check")
claims.declare("T3", "stabilizers (WGAN-GP, SN, R1) with a lower FID than no stabilizer",
               paper="SNGAN Table 2; survey", criterion=at_least(2, every=True), unit="of 3",
               shares_run="T3/T5: the SNDCGAN runs")
claims.declare("T4", "largest layer σ of D: unregularised / spectrally normalised",
               paper="SNGAN §2.1: σ(W_SN) = 1", criterion=at_least(1.5), unit="×")
claims.declare("T5", "FID with self-attention / without (SNDCGAN + SN)",
               paper="SAGAN Table 1: attention at 32/64 px helps", criterion=at_most(1.0, margin=True), unit="×",
               shares_run="T3/T5: the SNDCGAN runs")
claims.declare("T6", "conditional model: FID at the largest batch / at the smallest, same steps",
               paper="BigGAN Table 1: FID falls as batch grows 256 → 2048", criterion=at_most(1.0, margin=True), unit="×",
               shares_run="T6/T7: the conditional ResNet runs")
claims.declare("T7", "conditional model: FID wide / narrow",
               paper="BigGAN Table 1: +50% width helps", criterion=at_most(1.0, margin=True), unit="×",
               shares_run="T6/T7: the conditional ResNet runs")
claims.declare("T8", "linear probe on D's features: accuracy trained D / random D",
               paper="DCGAN §5.1 (82.8% CIFAR-10 from D's features)", criterion=at_least(1.0, margin=True), unit="×")
claims.declare("T9", "grid modes covered: MLP D with SN − without",
               paper="survey (qualitative)", criterion=at_least(0, margin=True), unit="modes")

# %% [markdown]
# ## 1 · The Dirac-GAN: why GAN training circles
# Data: a point mass at 0. $G$: a point mass at $\theta$. $D(x) = \psi x$. The only equilibrium is
# $(\theta, \psi) = (0, 0)$, and the gradient field
# $v(\theta, \psi) = (-\psi f'(\psi\theta),\; \theta f'(\psi\theta))$ turns around it: its Jacobian has
# eigenvalues $\pm i f'(0)$, with no real part to pull the iterates in. R1 adds $-\gamma\psi$ to
# $\dot\psi$, a real part; WGAN-GP pulls $|\psi|$ to 1, away from the equilibrium.

# %%
viz.show_source(dirac.vector_field)

# %%
# %%feeds T1 T2
regs = {"none": dict(regulariser="none"), "R1 (γ = 1)": dict(regulariser="r1", gamma=1.0),
        "WGAN-GP (λ = 1)": dict(regulariser="wgan-gp", gamma=1.0)}
paths = {k: dirac.trajectory(1.0, 1.0, cfg.dirac_steps, 0.1, **v) for k, v in regs.items()}
grid_t, grid_p = np.meshgrid(np.linspace(-2, 2, 17), np.linspace(-2, 2, 17))
fig, axes = plt.subplots(1, len(regs) + 1, figsize=(4 * (len(regs) + 1), 3.6))
for ax, (k, path) in zip(axes, paths.items()):
    u, v = dirac.vector_field(grid_t, grid_p, **regs[k])
    ax.quiver(grid_t, grid_p, u, v, color="grey", alpha=0.5)
    ax.plot(path[:, 0], path[:, 1], lw=1)
    ax.plot(*path[0], "go"); ax.plot(0, 0, "r*", ms=10)
    ax.set(title=k, xlabel="θ (G)", ylabel="ψ (D)", xlim=(-2, 2), ylim=(-2, 2))
for k, path in paths.items():
    axes[-1].semilogy(dirac.distance_to_equilibrium(path), label=k)
axes[-1].set(title="distance to the equilibrium", xlabel="alternating step"); axes[-1].legend(fontsize=8)
fig.tight_layout(); fig.savefig(out / "dirac.png", dpi=110)
dist = {k: dirac.distance_to_equilibrium(p) for k, p in paths.items()}
ratio = {k: d[-1] / d[0] for k, d in dist.items()}
print("Reading: after " f"{cfg.dirac_steps} alternating steps the unregularised game is at {ratio['none']:.2f}× its starting "
      f"distance (it circles), R1 at {ratio['R1 (γ = 1)']:.2e}× (it converged), WGAN-GP at {ratio['WGAN-GP (λ = 1)']:.2f}× "
      "(its penalty wants |ψ| = 1, so it cannot rest at ψ = 0).")
claims.measure("T1", ratio["none"], detail=f"after {cfg.dirac_steps} steps, lr 0.1")
claims.measure("T2", ratio["R1 (γ = 1)"])
claims.extra.update(dirac={k: float(v) for k, v in ratio.items()})

# %% [markdown]
# ## 2 · Spectral normalisation: the power iteration
# $\sigma(W)$ is estimated with one power iteration per training step, reusing the vector $u$ of
# the step before; because $W$ changes slowly, one iteration a step tracks $\sigma$ closely. Torch's
# `spectral_norm` parametrisation implements exactly this (`gancourse.nn.layers.spectral_norm`).

# %%
viz.show_source(layers.power_iteration)

# %%
W = torch.randn(64, 3 * 3 * 32, generator=seeding.generator(seed, "power iteration"))
true_sigma = torch.linalg.matrix_norm(W, 2).item()
u = torch.randn(64, generator=seeding.generator(seed, "power iteration u"))
u = u / u.norm()
estimates = []
for _ in range(20):
    sigma, u, _ = layers.power_iteration(W, u, n=1)
    estimates.append(sigma.item())
print(f"σ(W) = {true_sigma:.3f}; one iteration per call from a random u: "
      + ", ".join(f"{e:.3f}" for e in estimates[:6]) + f" … {estimates[-1]:.3f}")

# %% [markdown]
# ## 3 · One model, four stabilizers, the same budget
# The SNDCGAN of Miyato et al. (Table 3: conv 3×3 / 4×4 pairs, LeakyReLU 0.1; G: deconvolutions
# with BatchNorm) at width `width`, trained with each stabilizer for `steps` steps of batch `batch`
# in their setting "C" (Adam 2e-4, β = (0.5, 0.999), one D step per G step): the unregularised
# non-saturating GAN, WGAN-GP (λ = 10), spectral normalisation (hinge loss) and R1 (γ = 10).
# FID is tracked during training (one fixed draw of `curve_n` samples), with D's input-gradient norm
# and its layers' largest σ.

# %%
train = data.load_images(cfg.images, "train", data_root, profile)
test = data.load_images(cfg.images, "test", data_root, profile)
x_train, y_train = train.float(dev), train.labels.to(dev)
channels, size = train.shape[0], train.shape[1]
ex_train = train.subset(min(len(train), cfg.extractor_images), seed)
ex = extractors.get_extractor(extractor, ex_train, test, data_root, dev, epochs=cfg.extractor_epochs)
n_eval = min(cfg.eval_n, len(test))
claims.extra.update(extractor=ex.name, images=train.source)


def curve():
    return metrics.QualityCurve(test.images, ex, min(cfg.curve_n, len(test)), max(1, cfg.steps // 8), dev)


common = dict(device=dev, seed=seed, data_id=dict(train=train.source))
runs, quality = {}, {}
fid_draws = lambda name: [d["fid"] for d in quality[name]]


def train_stabilizer(name, **kw):
    runs[name] = stabilizers.train(name, x_train, cfg.steps, cfg.batch, cfg.width, callbacks=[curve()],
                                   out_dir=out / "stabilizers" / name, **common, **kw)
    quality[name] = metrics.sample_quality(runs[name].trainer, test, ex, n_eval, cfg.eval_draws, dev)


# %% [markdown]
# Spectral normalisation first: its model is also the one self-attention is added to (T5) and whose
# discriminator the linear probe reads (T8). Then no stabilizer, WGAN-GP and R1 (T3, T4).

# %%
# %%feeds T3 T4 T5 T8
train_stabilizer("sn")

# %%
# %%feeds T3 T4
for name in ("none", "wgan-gp", "r1"):
    train_stabilizer(name)
real_draws = metrics.real_quality(test, train, ex, n_eval, cfg.eval_draws, dev, seed=seed)
print("real train vs test:", metrics.format_metrics(metrics.mean_over_draws(real_draws)))
order = ("none", "wgan-gp", "sn", "r1")
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
for name in order:
    r = runs[name]
    recs = r.callbacks[0].records
    axes[0].plot([q["step"] for q in recs], [q["fid"] for q in recs], "-o", ms=3, label=name)
    diag = r.diagnostics.records
    axes[1].semilogy([q["step"] for q in diag], [q["grad_norm"] for q in diag], "-o", ms=3, label=name)
    axes[2].plot([q["step"] for q in diag], [q["sigma_max"] for q in diag], "-o", ms=3, label=name)
axes[0].set(title="FID during training (one draw)", xlabel="step", yscale="log")
axes[1].set(title="‖∇ₓD‖ at real images", xlabel="step")
axes[2].set(title="largest σ over D's layers", xlabel="step", yscale="log")
for ax in axes:
    ax.legend(fontsize=8)
fig.tight_layout(); fig.savefig(out / "stabilizers_curves.png", dpi=110)

rows = [dict(stabilizer=name, FID=summary(fid_draws(name)), IS=summary([d["is"] for d in quality[name]]),
             sigma_max=runs[name].diagnostics.records[-1]["sigma_max"]) for name in order]
viz.table(rows, floatfmt=".3g", title=f"after {cfg.steps:,} steps; {n_eval:,} samples × {cfg.eval_draws} draws; extractor: {ex.name[:60]}…")
print()
viz.table([dict(model="SN-DCGAN (standard CNN)", IS=7.42, FID=29.3, protocol="Miyato 2018 Table 2: CIFAR-10, Inception, 50k samples, 100k steps"),
           dict(model="SN-ResNet", IS=8.22, FID=21.7, protocol="ibid., a larger ResNet"),
           dict(model="WGAN-GP ResNet", IS=7.86, FID=None, protocol="Gulrajani 2017, unconditional CIFAR-10")],
          title="published numbers (another extractor and scale: for direction, not comparison)")
fid = {name: summary(fid_draws(name))["mean"] for name in order}
best = min(fid, key=fid.get)
print(f"\nReading: without a stabilizer the SNDCGAN ends at FID {fid['none']:.1f}; {best} is best at {fid[best]:.1f}. "
      "The published numbers use Inception on 50,000 samples after 100,000 steps: they frame the direction, "
      "not the value, of numbers from this extractor and budget.")

fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, name in zip(axes, order):
    viz.show_grid(runs[name].trainer.sample()[:36], nrow=6, ax=ax, title=f"{name}: FID {fid[name]:.1f}")
fig.tight_layout(); fig.savefig(out / "stabilizers_samples.png", dpi=110)
sigma_end = {name: runs[name].diagnostics.records[-1]["sigma_max"] for name in order}
claims.measure("T3", [sum(fid_draws(k)[i] < fid_draws("none")[i] for k in ("wgan-gp", "sn", "r1")) for i in draws],
               detail=", ".join(f"{k} {fid[k]:.1f}" for k in order))
claims.measure("T4", sigma_end["none"] / sigma_end["sn"], detail=f"{sigma_end['none']:.2f} vs {sigma_end['sn']:.2f}")
claims.extra.update(real_reference=real_draws)

# %% [markdown]
# ## 4 · Self-attention
# The SAGAN block (1×1 convolutions for query $f$, key $g$ and value $h$; a softmax over positions;
# $\gamma$ learned from 0, so the block starts as the identity), at 16×16 in G and D of the SN model.

# %%
viz.show_source(layers.SelfAttention.forward)

# %%
# %%feeds T5
runs["sn + attention"] = stabilizers.train("sn", x_train, cfg.steps, cfg.batch, cfg.width, attention=True,
                                           out_dir=out / "stabilizers" / "sn-attention", **common)
quality["sn + attention"] = metrics.sample_quality(runs["sn + attention"].trainer, test, ex, n_eval, cfg.eval_draws, dev)
sa = summary([a / b for a, b in zip(fid_draws("sn + attention"), fid_draws("sn"))])
gamma = [m.gamma.item() for m in runs["sn + attention"].trainer.G.modules() if isinstance(m, layers.SelfAttention)]
print(f"Reading: with self-attention the FID is {sa['mean']:.2f} ± {sa['sd']:.2f} times the FID without; G's attention "
      f"weight γ moved from 0 to {gamma[0]:+.3f}, so the model {'uses' if abs(gamma[0]) > 0.01 else 'barely uses'} it.")
claims.measure("T5", [a / b for a, b in zip(fid_draws("sn + attention"), fid_draws("sn"))])

# %% [markdown]
# ## 5 · BigGAN's lesson: batch size and width
# The class-conditional ResNet (conditional BatchNorm in G, a projection discriminator, spectral
# normalisation and the hinge loss: BigGAN's recipe, much smaller) trained for the same number of
# steps at several batch sizes, then at two widths. BigGAN's Table 1 shows FID falling as the batch
# grows from 256 to 2,048 and as the width grows by 50%.

# %%
# %%feeds T6 T7
big = {}
for b in cfg.big_batches:
    big[f"batch {b}"] = stabilizers.train("biggan", x_train, cfg.big_steps, b, cfg.big_widths[0], labels=y_train,
                                          n_classes=10, out_dir=out / "biggan" / f"b{b}-w{cfg.big_widths[0]}", **common)
for w in cfg.big_widths[1:]:
    big[f"width {w}"] = stabilizers.train("biggan", x_train, cfg.big_steps, cfg.big_batches[0], w, labels=y_train,
                                          n_classes=10, out_dir=out / "biggan" / f"b{cfg.big_batches[0]}-w{w}", **common)
big_q = {k: metrics.sample_quality(r.trainer, test, ex, n_eval, cfg.eval_draws, dev) for k, r in big.items()}
viz.table([dict(run=k, FID=summary([d["fid"] for d in q]), IS=summary([d["is"] for d in q]),
                parameters=models.n_params(big[k].trainer.G)) for k, q in big_q.items()],
          floatfmt=".3g", title=f"conditional ResNet, {cfg.big_steps:,} steps")
small_b, large_b = f"batch {cfg.big_batches[0]}", f"batch {cfg.big_batches[-1]}"
narrow, wide = small_b, f"width {cfg.big_widths[-1]}"
fid_b = {k: summary([d["fid"] for d in q])["mean"] for k, q in big_q.items()}
print(f"Reading: at {cfg.big_steps:,} steps, batch {cfg.big_batches[-1]} ends at FID {fid_b[large_b]:.1f} against "
      f"{fid_b[small_b]:.1f} for batch {cfg.big_batches[0]}; width {cfg.big_widths[-1]} at {fid_b[wide]:.1f} against "
      f"{fid_b[narrow]:.1f} for width {cfg.big_widths[0]}. A bigger batch also costs more per step: BigGAN's lesson "
      "is about what a fixed number of updates buys when compute is not the limit.")
fig, axes = plt.subplots(1, len(big), figsize=(3.6 * len(big), 4))
for ax, (k, r) in zip(np.atleast_1d(axes), big.items()):
    viz.show_grid(r.trainer.sample()[:40], nrow=10, ax=ax, title=f"{k}: FID {fid_b[k]:.1f}")
fig.tight_layout(); fig.savefig(out / "biggan_samples.png", dpi=110)
claims.measure("T6", [a["fid"] / b["fid"] for a, b in zip(big_q[large_b], big_q[small_b])],
               detail=f"batch {cfg.big_batches[-1]} {fid_b[large_b]:.1f} vs {cfg.big_batches[0]} {fid_b[small_b]:.1f}")
claims.measure("T7", [a["fid"] / b["fid"] for a, b in zip(big_q[wide], big_q[narrow])],
               detail=f"width {cfg.big_widths[-1]} {fid_b[wide]:.1f} vs {cfg.big_widths[0]} {fid_b[narrow]:.1f}")
claims.extra.update(biggan=big_q)

# %% [markdown]
# ## 6 · Mode collapse and interpolation, revisited
# The 25-Gaussian grid of notebook 01 with the same MLP, its discriminator with and without spectral
# normalisation (non-saturating loss); and spherical interpolation in the SN model's latent space.

# %%
# %%feeds T9
grid25 = data.mixture("grid25")
toy = {}
for sn in (False, True):
    tr = mixtures.train_gan(grid25, "non_saturating", cfg.toy_steps, 256, 128, lr=1e-3, device=dev, seed=seed,
                            out_dir=out / "toy" / ("sn" if sn else "none"), spectral=sn)
    toy["SN" if sn else "none"] = (tr, mixtures.coverage(tr, grid25, cfg.toy_eval, cfg.eval_draws))
fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.6))
for ax, (k, (tr, cov)) in zip(axes, toy.items()):
    viz.scatter_2d(tr.sample(cfg.toy_eval, name="mode coverage"), grid25, ax=ax,
                   title=f"D {k}: {summary([c['modes'] for c in cov])['mean']:.1f}/25 modes")
fig.tight_layout(); fig.savefig(out / "collapse.png", dpi=110)
modes = {k: summary([c["modes"] for c in cov])["mean"] for k, (_, cov) in toy.items()}
print(f"Reading: the MLP D without SN keeps {modes['none']:.1f} of 25 modes, with SN {modes['SN']:.1f}.")
claims.measure("T9", [a["modes"] - b["modes"] for a, b in zip(toy["SN"][1], toy["none"][1])])
claims.extra.update(toy={k: [{kk: vv for kk, vv in c.items() if kk != "counts"} for c in cov] for k, (_, cov) in toy.items()})

# %%
# %%feeds none
sn_tr = runs["sn"].trainer
z0, z1 = sn_tr.eval_noise(6, "interpolation", 0), sn_tr.eval_noise(6, "interpolation", 1)
fig, ax = plt.subplots(figsize=(4, 3.6))
viz.show_grid(sn_tr.sample(z=viz.interpolate(z0, z1, 8).reshape(-1, z0.shape[1])), nrow=8, ax=ax, title="slerp, SN model")
fig.tight_layout(); fig.savefig(out / "interpolation.png", dpi=110)

# %% [markdown]
# ## 7 · What D learns: a linear probe
# Freeze D, take its penultimate features, fit a logistic regression on the classes of `probe_train`
# training images, and score it on `probe_test` test images — for the trained SN discriminator, for a
# randomly initialised one of the same architecture, and for raw pixels.

# %%
# %%feeds T8
torch.manual_seed(seed)
random_D = stabilizers.sndcgan("sn", cfg.width, channels, size)[1].to(dev)
probe_rows, acc = [], {"trained D": [], "random D": [], "pixels": []}
for i in draws:
    tr_set = train.subset(min(cfg.probe_train, len(train)), seeding.derive(seed, "probe train", i))
    te_set = test.subset(min(cfg.probe_test, len(test)), seeding.derive(seed, "probe test", i))
    for k, feats in (("trained D", lambda s: probe.features(runs["sn"].trainer.D, s, dev)),
                     ("random D", lambda s: probe.features(random_D, s, dev)), ("pixels", probe.pixels)):
        acc[k].append(probe.linear_probe(feats(tr_set), tr_set.labels, feats(te_set), te_set.labels, seed=seed))
viz.table([dict(features=k, accuracy=summary(v)) for k, v in acc.items()], floatfmt=".3f",
          title=f"linear probe accuracy, {cfg.probe_train:,} train / {cfg.probe_test:,} test images × {cfg.eval_draws} draws")
print(f"Reading: the trained discriminator's features give {summary(acc['trained D'])['mean']:.1%} on the 10 classes, a "
      f"random one's {summary(acc['random D'])['mean']:.1%}, pixels {summary(acc['pixels'])['mean']:.1%}: telling real "
      "from fake taught D something about what the images show, without a label.")
claims.measure("T8", [a / b for a, b in zip(acc["trained D"], acc["random D"])])
claims.extra.update(probe=acc)

# %% [markdown]
# ## Claims table

# %%
claims.show()
print("results:", claims.save(
    stabilizers={k: dict(draws=q, curve=runs[k].callbacks[0].records if runs[k].callbacks else [],
                         diagnostics=[{kk: vv for kk, vv in d.items() if kk != "sigma"} for d in runs[k].diagnostics.records])
                 for k, q in quality.items()}))

# %% [markdown]
# ## Summary
# The Dirac-GAN shows the problem in two parameters: unregularised gradient steps circle the
# equilibrium, a zero-centred penalty makes them converge. On images, each stabilizer changes what
# D may do — a soft Lipschitz penalty, a hard bound per layer, a penalty at the data — and the claims
# table says which of them paid off at this budget, whether attention and a bigger batch or width
# helped, and what D's features know about the classes.
#
# ## Exercises
#
# **E1.** Write one step of the power iteration: given $W$ (out × in) and the previous $u$, return
# $(\sigma, u', v')$ with $v' = W^\top u / \lVert W^\top u\rVert$, $u' = W v' / \lVert W v'\rVert$,
# $\sigma = u'^\top W v'$. The check runs it repeatedly and compares with the largest singular value.

# %%
def my_power_step(W, u):
    ### BEGIN SOLUTION
    v = W.t() @ u
    v = v / v.norm()
    u = W @ v
    u = u / u.norm()
    return u @ W @ v, u, v
    ### END SOLUTION


# %%
exercises.check("05.E1", my_power_step)

# %% [markdown]
# **E2.** Write the R1 penalty $\frac{\gamma}{2}\mathbb{E}\lVert\nabla_x D(x)\rVert^2$ on a batch of real
# images `x` for a discriminator `D` (a function from a batch to one score per image). Mind which
# convention of γ you follow: the check uses Mescheder et al.'s (with the ½).

# %%
def my_r1(D, x, gamma):
    ### BEGIN SOLUTION
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return 0.5 * gamma * g.flatten(1).pow(2).sum(1).mean()
    ### END SOLUTION


# %%
exercises.check("05.E2", my_r1)
