# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · GAN foundations: the objective with f, mode collapse, DCGAN
#
# *Survey document (Saito, PFN 2018, "unsupervised learning in vision"), part 1.*
#
# A generator $G$ maps noise $z \sim p(z)$ to samples; a discriminator $D$ scores samples. With
# $D$'s raw output $d$ (a logit, or a critic value), one family of objectives covers the GANs in
# the survey:
#
# $$\mathcal{L}_D = \mathbb{E}_{x\sim p_\text{data}}\, f(-D(x)) + \mathbb{E}_{z}\, f(D(G(z)))$$
#
# | loss | $f(t)$ | generator minimises |
# |---|---|---|
# | minimax (Goodfellow et al. 2014, eq. 1) | $\log(1+e^t)$ | $-\mathbb{E}\, f(D(G(z))) = \mathbb{E}\log(1-\sigma(D(G(z))))$ |
# | non-saturating (ibid., §3) | $\log(1+e^t)$ | $\mathbb{E}\, f(-D(G(z))) = -\mathbb{E}\log\sigma(D(G(z)))$ |
# | hinge (Lim & Ye 2017) | $\max(0, 1+t)$ | $-\mathbb{E}\,D(G(z))$ |
# | Wasserstein (Arjovsky et al. 2017) | $t$ | $-\mathbb{E}\,D(G(z))$, with $D$ kept 1-Lipschitz (here: WGAN-GP) |
#
# This notebook trains all four on the 2D mixtures where mode collapse is visible, shows why the
# minimax generator loss saturates, trains a DCGAN on MNIST, and walks its latent space.

# %% tags=["parameters"]
profile = "smoke"      # smoke | laptop | course | paper
device = "auto"
seed = 0
data_root = None       # None: the course's data/ (or $GANCOURSE_DATA)
out_dir = None         # None: the course's runs/manual/<notebook>/
overrides = {}         # any setting of the profile, e.g. {"toy_steps": 1000}
claim_ids = ""          # only these claims, e.g. "A1,A3" (gancourse run --claims): other sections are skipped
extractor = "course"   # course | inception | inception:PATH | torchscript:PATH
losses_to_run = "minimax,non_saturating,hinge,wasserstein"

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

from gancourse import data, seeding, training
from gancourse.course import exercises, notebook, viz
from gancourse.instruments import extractors, metrics
from gancourse.training import losses
from gancourse.papers import mixtures
from gancourse.nn import models
from gancourse.course.results import at_least, at_most, summary

run = notebook.start("01_gan_foundations", profile, device, seed, out_dir, overrides, data_root, claim_ids)
cfg, dev, out, claims, data_root = run.cfg, run.device, run.out, run.claims, run.data_root
loss_names = [losses.check_loss(l.strip()) for l in losses_to_run.split(",") if l.strip()]
draws = range(cfg.eval_draws)

# %% [markdown]
# ## Claims, fixed before the run
#
# * **F1** — Goodfellow et al. (2014, §3): early in training $D$ rejects samples with high
#   confidence and $\log(1-D(G(z)))$ saturates; maximising $\log D(G(z))$ instead "provides much
#   stronger gradients". We measure $\|\nabla_{\theta_G}\|$ of both losses after training $D$ alone
#   against the untrained $G$.
# * **F2** — mode collapse (survey): a GAN trained on a mixture can drop modes. We count the modes
#   covered on the 25-Gaussian grid by each loss; the claim holds if some loss misses at least one.
# * **F3** — DCGAN (Radford et al. 2016) generates convincing digits: its Inception Score (under the
#   named extractor) reaches at least 80% of the score of real digits.
# * **F4** — Radford et al. (2016, §6.1) argue the generator does not memorise: the median distance
#   from a sample to its nearest training image is at least 90% of that from a held-out real image.
#
# Every number rests on random samples, so each is measured on `eval_draws` independent draws
# (other noise, other real subsets; the same trained networks): the table shows mean ± sd, and
# the criteria with a margin must hold for the whole interval mean ± sd.

# %%
claims.declare("F1", "minimax G loss saturates: non-saturating gradient ≫ minimax gradient when D is confident",
               paper="Goodfellow 2014 §3 (qualitative)", criterion=at_least(10, margin=True), unit="× grad-norm ratio")
claims.declare("F2", "GANs drop modes of a mixture: fewest grid modes covered by any loss",
               paper="mode collapse (survey; qualitative)", criterion=at_most(24, margin=True), unit="of 25 modes")
claims.declare("F3", "DCGAN samples score near real digits: IS(samples) / IS(real)",
               paper="DCGAN (Radford 2016; samples only)", criterion=at_least(0.8, margin=True), unit="ratio")
claims.declare("F4", "no memorisation: median NN distance sample→train / held-out→train",
               paper="Radford 2016 §6.1 (qualitative)", criterion=at_least(0.9, margin=True), unit="ratio")

# %% [markdown]
# ## 1 · The losses in code
# They are a few lines each in `gancourse.training.losses`:

# %%
viz.show_source(losses.d_loss, losses.g_loss)

# %% [markdown]
# ## 2 · Why the minimax generator saturates
# For a fake sample with logit $d$, $\partial/\partial d$ of the minimax generator loss
# $\log(1-\sigma(d))$ is $-\sigma(d)$, tiny when $D$ is sure the sample is fake
# ($\sigma(d)\to 0$). The non-saturating loss $-\log\sigma(d)$ has derivative $-(1-\sigma(d))$,
# largest exactly then.

# %%
d = torch.linspace(-8, 8, 200)
fig, ax = plt.subplots(figsize=(5, 3))
for name in ("minimax", "non_saturating"):
    ax.plot(d, losses.g_logit_gradient(name, d), label=name)
ax.set_xlabel("D's logit on a fake sample, d"); ax.set_ylabel("|∂ loss_G / ∂d|")
ax.axvspan(-8, -2, alpha=0.1, color="red", label="D confident: fake")
ax.legend(); ax.set_title("Gradient the generator receives");

# %% [markdown]
# Now on real networks: train a DCGAN discriminator alone against the untrained generator on
# MNIST, then measure the gradient each loss sends into $G$'s parameters, on `eval_draws` draws of
# 256 noise vectors.

# %%
train = data.load_images("mnist", "train", data_root, profile)
test = data.load_images("mnist", "test", data_root, profile)
x_train = train.float(dev)
size, channels = train.shape[1], train.shape[0]

torch.manual_seed(seed)
G0 = models.DCGANGenerator(100, cfg.dcgan_width, channels, size).to(dev)
D0 = models.DCGANDiscriminator(cfg.dcgan_width, channels, size).to(dev)
models.dcgan_init(G0), models.dcgan_init(D0)
d_curve = training.fit_discriminator(D0, G0, data.batches(x_train, cfg.dcgan_batch), cfg.sat_d_steps)
zs = [torch.randn(256, 100, generator=seeding.generator(seed, "saturation", i)).to(dev) for i in draws]
with torch.no_grad():
    d_of_fake = summary([torch.sigmoid(D0(G0(z))).mean().item() for z in zs])
grads = [{name: losses.generator_grad_norm(name, G0, D0, z) for name in ("minimax", "non_saturating")} for z in zs]
ratios = summary([g["non_saturating"] / g["minimax"] for g in grads])
print(f"after {cfg.sat_d_steps} D steps: mean D(G(z)) = {d_of_fake['mean']:.4f}")
print(f"‖∇θ_G‖ non-saturating / minimax = {ratios['mean']:.1f} ± {ratios['sd']:.1f} over {ratios['n']} draws of z")
print(f"Reading: D calls the untrained samples real with probability {d_of_fake['mean']:.3f}; there the minimax "
      f"loss hands G {ratios['mean']:.0f}× less gradient than the non-saturating one — the saturation "
      f"Goodfellow et al. predicted, and why every later GAN here trains G with the non-saturating (or hinge) loss.")

# %% [markdown]
# ## 3 · The four losses on the 2D mixtures
# MLP generator and discriminator (3 hidden layers), Adam (β=(0.5, 0.9); lr `toy_lr` of the profile,
# 1e-4 at paper scale, larger in the shorter profiles); the Wasserstein
# critic is kept Lipschitz by WGAN-GP's gradient penalty (λ = 0.1 and 5 critic steps, as in
# Gulrajani et al.'s 2D experiments). Red crosses are the modes. The mixtures are the profile's
# `toy_mixtures`: the 8-ring and the 25-grid, or in the laptop profile the grid alone (the claim's
# mixture; `-p toy_mixtures ring8,grid25` adds the ring).

# %%
mixes = [data.mixture(name) for name in cfg.toy_mixtures.split(",")]
toy = {}
for mix in mixes:
    for name in loss_names:
        tr = mixtures.train_gan(mix, name, cfg.toy_steps, cfg.toy_batch, cfg.toy_hidden, lr=cfg.toy_lr,
                                device=dev, seed=seed, out_dir=out / "toy" / f"{mix.name}-{name}")
        toy[mix.name, name] = (tr, mixtures.coverage(tr, mix, cfg.toy_eval, cfg.eval_draws))

fig, axes = plt.subplots(len(mixes), len(loss_names), figsize=(2.6 * len(loss_names), 2.6 * len(mixes)), squeeze=False)
for i, mix in enumerate(mixes):
    for j, name in enumerate(loss_names):
        tr, cov = toy[mix.name, name]
        viz.scatter_2d(tr.sample(cfg.toy_eval, name="mode coverage"), mix, ax=axes[i][j],
                       title=f"{name}\n{cov[0]['modes']}/{cov[0]['n_modes']} modes, {cov[0]['hq']:.0%} HQ")
fig.tight_layout(); fig.savefig(out / "mixtures.png", dpi=120)

# %%
mix_rows = [dict(mixture=m, loss=l, modes=summary([c["modes"] for c in cov]), of=cov[0]["n_modes"],
                 high_quality=summary([c["hq"] for c in cov]), kl_to_uniform=summary([c["kl_to_uniform"] for c in cov]))
            for (m, l), (_, cov) in toy.items()]
viz.table(mix_rows, floatfmt=".3g", title=f"modes covered and share of high-quality samples, {cfg.toy_eval:,} samples × {cfg.eval_draws} draws")
grid = {r["loss"]: r["modes"]["mean"] for r in mix_rows if r["mixture"] == "grid25"}
worst, best = min(grid, key=grid.get), max(grid, key=grid.get)
print(f"\nReading: on the 25-mode grid, {worst} covers the fewest modes ({grid[worst]:.1f}) and {best} the most "
      f"({grid[best]:.1f}); a loss that misses modes while its samples stay high quality has collapsed onto a subset of "
      "the data — the failure the survey calls mode collapse.")

# %% [markdown]
# Losses over training for the grid. The generator hops between modes rather than spreading over
# them: collapse shows as D's loss dropping while G's rises.

# %%
fig, axes = plt.subplots(1, len(loss_names), figsize=(3 * len(loss_names), 2.6), squeeze=False)
for ax, name in zip(axes[0], loss_names):
    viz.plot_history(toy["grid25", name][0].history, keys=("d_loss", "g_loss"), ax=ax, title=f"grid25 / {name}")
fig.tight_layout()

# %% [markdown]
# ## 4 · DCGAN on MNIST
# Radford et al. (2016): strided (transposed) convolutions instead of pooling, BatchNorm in both
# networks (not on G's output or D's input), ReLU in G with tanh output, LeakyReLU(0.2) in D,
# Adam with lr 2e-4 and β₁ = 0.5, weights from N(0, 0.02).

# %%
torch.manual_seed(seed)
G = models.DCGANGenerator(100, cfg.dcgan_width, channels, size)
D = models.DCGANDiscriminator(cfg.dcgan_width, channels, size)
models.dcgan_init(G), models.dcgan_init(D)
print(f"G: {models.n_params(G):,} parameters, D: {models.n_params(D):,}")
dcgan = training.Trainer(G, D, loss="non_saturating", lr=2e-4, betas=(0.5, 0.999), device=dev, seed=seed,
                         out_dir=out / "dcgan", ckpt_every=max(1, cfg.dcgan_steps // 4),
                         sample_every=max(1, cfg.dcgan_steps // 4), log_every=max(1, cfg.dcgan_steps // 200),
                         desc="dcgan", data_id=dict(train=train.source))
dcgan.fit(data.batches(x_train, cfg.dcgan_batch), cfg.dcgan_steps)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
viz.plot_history(dcgan.history, ax=axes[0], title="DCGAN losses")
viz.show_grid(dcgan.sample()[:64], nrow=8, ax=axes[1], title=f"EMA generator, step {dcgan.step}")
fig.savefig(out / "dcgan.png", dpi=120)

# %% [markdown]
# Samples over training (fixed noise, EMA generator), from the grids the trainer saved:

# %%
grids = sorted((out / "dcgan").glob("samples_*.png"))
fig, axes = plt.subplots(1, len(grids), figsize=(3 * len(grids), 3), squeeze=False)
for ax, p in zip(axes[0], grids):
    ax.imshow(plt.imread(p)); ax.set_axis_off(); ax.set_title(p.stem.replace("samples_", "step "))

# %% [markdown]
# ### FID, KID and IS — with the extractor named
# Generated samples against real test digits, beside real training digits against the same test
# digits (the floor this extractor can measure); each on `eval_draws` draws.

# %%
ex = extractors.get_extractor(extractor, train, test, data_root, dev, epochs=cfg.extractor_epochs)
n_eval = min(cfg.dcgan_eval, len(test), len(train))
fake_draws = metrics.sample_quality(dcgan, test, ex, n_eval, cfg.eval_draws, dev)
real_draws = metrics.real_quality(test, train, ex, n_eval, cfg.eval_draws, dev, seed=seed)
m_fake, m_real = metrics.mean_over_draws(fake_draws), metrics.mean_over_draws(real_draws)
print("DCGAN      :", metrics.format_metrics(m_fake))
print("real train :", metrics.format_metrics(m_real))
is_ratio = summary([f["is"] / r["is"] for f, r in zip(fake_draws, real_draws)])
print(f"\nReading: the DCGAN's samples score IS {m_fake['is']:.2f} against {m_real['is']:.2f} for real digits "
      f"({is_ratio['mean']:.0%} of it) and FID {m_fake['fid']:.2f} against the real floor of {m_real['fid']:.2f}. "
      "Under the course's extractor these compare only with each other, not with Inception numbers in papers. "
      "KID is an unbiased estimate, so near 0 it can come out negative.")

# %% [markdown]
# ## 5 · Latent space: interpolation and memorisation
# Spherical interpolation between noise vectors (the Gaussian's mass sits on a shell); each row
# should morph smoothly from one digit to another. Then the memorisation check: distance from each
# sample to its nearest training image, against the same for held-out real digits.

# %%
z0, z1 = dcgan.eval_noise(8, "interpolation", 0), dcgan.eval_noise(8, "interpolation", 1)
path = viz.interpolate(z0, z1, cfg.interp_steps).reshape(-1, 100)
viz.show_grid(dcgan.sample(z=path), nrow=cfg.interp_steps, title="slerp between 8 pairs of noise vectors")
plt.savefig(out / "interpolation.png", dpi=120)

# %%
q = min(cfg.nn_queries, len(test))
nn_fake = [metrics.nearest_neighbour_distance(dcgan.sample(q, name="memorisation", draw=i).cpu(), x_train.cpu()) for i in draws]
held_out = [test.subset(q, seeding.derive(seed, "memorisation", i)).float() for i in draws]
nn_real = [metrics.nearest_neighbour_distance(x, x_train.cpu()) for x in held_out]
nn_ratio = summary([(f.median() / r.median()).item() for f, r in zip(nn_fake, nn_real)])
fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(nn_real[0].numpy(), 40, alpha=0.6, label="held-out real → train")
ax.hist(nn_fake[0].numpy(), 40, alpha=0.6, label="DCGAN sample → train")
ax.set_xlabel("L2 distance to nearest training image"); ax.legend();
print(f"median NN distance: samples {nn_fake[0].median():.2f}, held-out real {nn_real[0].median():.2f} (first draw); "
      f"ratio {nn_ratio['mean']:.3f} ± {nn_ratio['sd']:.3f} over {nn_ratio['n']} draws")
print(f"Reading: a generator that copied its training set would put samples at distance ≈ 0; ours sit "
      f"{nn_ratio['mean']:.0%} as far from the training set as real digits it never saw.")

# %% [markdown]
# ## Claims table

# %%
grid_modes = [min(toy["grid25", name][1][i]["modes"] for name in loss_names) for i in draws]
claims.measure("F1", [g["non_saturating"] / g["minimax"] for g in grads], detail=f"mean D(G(z)) = {d_of_fake['mean']:.3f}")
claims.measure("F2", grid_modes, detail=", ".join(f"{k} {v:.1f}" for k, v in grid.items()))
claims.measure("F3", [f["is"] / r["is"] for f, r in zip(fake_draws, real_draws)],
               detail=f"IS {m_fake['is']:.2f} vs {m_real['is']:.2f}")
claims.measure("F4", [(f.median() / r.median()).item() for f, r in zip(nn_fake, nn_real)])
claims.show()
results_path = claims.save(
    extractor=ex.name, data=dict(train=train.source, test=test.source),
    dcgan=dict(steps=dcgan.step, metrics=m_fake, real_reference=m_real, draws=dict(fake=fake_draws, real=real_draws)),
    saturation=dict(grads=grads, d_of_fake=d_of_fake),
    mixtures=[{**r, "draws": [{k: v for k, v in c.items() if k != "counts"} for c in toy[r["mixture"], r["loss"]][1]]}
              for r in mix_rows])
print(f"results: {results_path}")

# %% [markdown]
# ## Summary
# The minimax generator loss saturates where $D$ is confident (F1), which is why the non-saturating
# loss is the default; on the 2D grid the losses differ in how many modes they keep (F2); a small
# DCGAN makes digits its extractor scores close to real ones (F3) without copying its training set
# (F4). The table above says which of these held at this profile's scale.
#
# ## Exercises
#
# **E1.** Write the hinge discriminator loss $\mathbb{E}\max(0, 1-D(x)) + \mathbb{E}\max(0, 1+D(G(z)))$.
# The check compares it with `gancourse.training.losses` on random logits.

# %%
def my_hinge_d_loss(d_real, d_fake):
    ### BEGIN SOLUTION
    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
    ### END SOLUTION


# %%
exercises.check("01.E1", my_hinge_d_loss)

# %% [markdown]
# **E2.** At which fake logit $d$ does the minimax generator receive 1% of the gradient the
# non-saturating one does? Derive it ($\sigma(d) / (1-\sigma(d)) = 0.01$) and return it.

# %%
def my_d_star():
    ### BEGIN SOLUTION
    return torch.log(torch.tensor(0.01)).item()   # σ(d)/(1−σ(d)) = e^d
    ### END SOLUTION


# %%
exercises.check("01.E2", my_d_star)
