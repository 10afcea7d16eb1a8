"""AutoGAN's generator search space and the architecture it found (Gong et al. 2019, §3.1, Fig. 2).

A generator is a dense layer to 4×4×w, then one cell per ×2 upsampling (3 cells for 32×32), then
BN → ReLU → conv 3×3 → tanh (one to-RGB, shared by every stage as in the official code). A cell is
two 3×3 convs; the search chooses, per cell (official ``models_search/building_blocks_search.py``):

| decision   | values (official index)                        | token range           |
| conv       | post-activation 0, pre-activation 1            | 2                     |
| norm       | none 0, BatchNorm 1, InstanceNorm 2            | 3                     |
| up         | bilinear 0, nearest 1, stride-2 deconv 2       | 3                     |
| shortcut   | off 0, on 1 (a 1×1 conv of the upsampled input)| 2                     |
| skip-ins   | from each earlier cell, on/off (cell i > 1)    | 2^(i−1), as one token |

A skip-in carries an earlier cell's first-conv output, resized (interpolated with the cell's ``up``
mode, or stride-2 deconvs) and passed through a 1×1 conv, into this cell before its second conv.

**Encoding.** An architecture is a tuple of ``CellArch`` (one per cell, 1–3 of them), or the
official flat vector of ints: 4 tokens for cell 1, 5 for cells 2 and 3, in the order above. The
skip-in token is an integer whose binary digits are the flags of the earlier cells, oldest first
(cell 3's token 3 = ``11``: both; 2 = ``10``: cell 1 only; 1: cell 2 only). ``encode`` / ``decode``
convert; the published ``autogan_cifar10_a`` is ``[1,0,1,1, 1,0,0,1,1, 1,0,1,0,3]`` (``exps/derive.sh``).

``Cell`` is one class for both uses: every choice is a constructor argument, either one value (a
fixed cell that holds only the layers it uses) or a tuple of values (a shared cell that holds the
layers of every value: parameter sharing, ENAS-style — one conv pair per conv type, shared by
every norm / up / shortcut / skip choice). ``AutoGANGenerator(archs)`` is a fixed generator;
``SharedGenerator`` is the supergraph that runs any sampled architecture; fewer cells than it holds
give a partial generator (1 cell: 8×8, 2 cells: 16×16), as in the multi-level search.
``StageDiscriminator`` is the official SN-ResNet D whose ``stage`` picks how many down-blocks run.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ... import CourseError
from .sngan import DBlock, _maybe_sn

CONVS = ("post", "pre")                      # official CONV_TYPE
NORMS = (None, "bn", "in")                   # official NORM_TYPE
UPS = ("bilinear", "nearest", "deconv")      # official UP_TYPE
SHORTCUTS = (False, True)                    # official SHORT_CUT_TYPE
MAX_CELLS = 3


# -- the encoding --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellArch:
    """One cell's choices; ``skips`` has one flag per earlier cell, oldest first."""
    conv: str = "pre"
    norm: str | None = None
    up: str = "nearest"
    shortcut: bool = True
    skips: tuple[bool, ...] = ()

    def __post_init__(self):
        for what, value, allowed in (("conv", self.conv, CONVS), ("norm", self.norm, NORMS),
                                     ("up", self.up, UPS), ("shortcut", self.shortcut, SHORTCUTS)):
            if value not in allowed:
                raise CourseError(f"cell {what} must be one of {allowed}, not {value!r}")
        object.__setattr__(self, "skips", tuple(bool(s) for s in self.skips))

    def tokens(self) -> list[int]:
        """The official tokens of this cell: 4, plus the skip-in integer if it has earlier cells."""
        out = [CONVS.index(self.conv), NORMS.index(self.norm), UPS.index(self.up), int(self.shortcut)]
        if self.skips:
            out.append(sum(int(s) << (len(self.skips) - 1 - j) for j, s in enumerate(self.skips)))
        return out

    @classmethod
    def from_tokens(cls, tokens, n_prev: int) -> "CellArch":
        t = [int(x) for x in tokens]
        if len(t) != len(decisions(n_prev)) or any(not 0 <= v < k for v, k in zip(t, decisions(n_prev))):
            raise CourseError(f"cell {n_prev + 1} takes tokens within {decisions(n_prev)}, not {t}")
        skips = tuple(bool(t[4] >> (n_prev - 1 - j) & 1) for j in range(n_prev)) if n_prev else ()
        return cls(CONVS[t[0]], NORMS[t[1]], UPS[t[2]], bool(t[3]), skips)


def decisions(cell: int) -> tuple[int, ...]:
    """Choices per decision of the cell with ``cell`` earlier cells (0-based index): the controller's
    softmax sizes (official ``Controller.tokens``): conv 2, norm 3, up 3, shortcut 2, skip-ins 2^cell."""
    return (len(CONVS), len(NORMS), len(UPS), len(SHORTCUTS)) + ((2 ** cell,) if cell else ())


def space_size(cells: int = MAX_CELLS) -> int:
    """Number of distinct generators with ``cells`` cells: 36 · 72 · 144 = 373,248 for three."""
    n = 1
    for i in range(cells):
        for k in decisions(i):
            n *= k
    return n


def encode(archs) -> list[int]:
    """Tuple of CellArch → the official flat vector (4 + 5 + 5 ints for three cells)."""
    return [t for a in archs for t in a.tokens()]


def decode(vector) -> tuple[CellArch, ...]:
    """The official flat vector → a tuple of CellArch (its length says how many cells)."""
    v, out, i = [int(x) for x in vector], [], 0
    if len(v) not in (4, 9, 14):
        raise CourseError(f"an architecture vector has 4, 9 or 14 ints (1–3 cells), not {len(v)}")
    while i < len(v):
        n = len(decisions(len(out)))
        out.append(CellArch.from_tokens(v[i:i + n], len(out)))
        i += n
    return tuple(out)


AUTOGAN_CIFAR10_A = decode([1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3])   # exps/derive.sh; models/autogan_cifar10_a.py


# -- the cell ------------------------------------------------------------------------------------

def _options(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _norm_layer(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "bn" else nn.InstanceNorm2d(channels)   # IN: no affine, as official


class Cell(nn.Module):
    """AutoGAN's cell (Gong et al. 2019, Fig. 2; official ``Cell``):

        h   = block1(x)  (up ×2 inside)        pre:  conv(up(ReLU(norm(x))))   post: ReLU(norm(conv(up(x))))
        h  += Σ_j on  1×1conv(resize(skip_j))   the earlier cells' ``h``, to this cell's size
        out = block2(h)  (no up)                + 1×1conv(up(x)) if shortcut
        returns (h, out): ``h`` is what later cells take as this cell's skip feature.

    Each of ``conv``, ``norm``, ``up``, ``shortcut`` is one value (fixed) or a tuple of values (the
    shared cell holds layers for each); ``skips`` is a tuple of flags (fixed) or None (any subset of
    the ``n_prev`` earlier cells). ``forward(x, prev, arch)`` takes the arch a shared cell should run.
    """

    def __init__(self, width: int, n_prev: int = 0, conv=CONVS, norm=NORMS, up=UPS, shortcut=SHORTCUTS,
                 skips: tuple[bool, ...] | None = None):
        super().__init__()
        self.convs, self.norms, self.ups, self.shortcuts = _options(conv), _options(norm), _options(up), _options(shortcut)
        for what, got, allowed in (("conv", self.convs, CONVS), ("norm", self.norms, NORMS),
                                   ("up", self.ups, UPS), ("shortcut", self.shortcuts, SHORTCUTS)):
            if not got or any(v not in allowed for v in got):
                raise CourseError(f"cell {what} takes values among {allowed}, not {got}")
        if skips is not None and len(skips) != n_prev:
            raise CourseError(f"a cell after {n_prev} cells takes {n_prev} skip flags, not {len(skips)}")
        self.n_prev, self.skip_options = n_prev, (None if skips is None else tuple(bool(s) for s in skips))
        deconv = "deconv" in self.ups
        self.c1 = nn.ModuleDict({c: nn.Conv2d(width, width, 3, 1, 1) for c in self.convs})
        self.c2 = nn.ModuleDict({c: nn.Conv2d(width, width, 3, 1, 1) for c in self.convs})
        self.n1 = nn.ModuleDict({f"{c}_{n}": _norm_layer(n, width) for c in self.convs for n in self.norms if n})
        self.n2 = nn.ModuleDict({f"{c}_{n}": _norm_layer(n, width) for c in self.convs for n in self.norms if n})
        self.up1 = nn.ModuleDict({c: nn.ConvTranspose2d(width, width, 2, 2) for c in self.convs}) if deconv else None
        self.c_sc = nn.Conv2d(width, width, 1) if True in self.shortcuts else None
        self.up_sc = nn.ConvTranspose2d(width, width, 2, 2) if deconv and self.c_sc is not None else None
        used = [j for j in range(n_prev) if skips is None or skips[j]]
        self.skip = nn.ModuleDict({str(j): nn.Conv2d(width, width, 1) for j in used})
        scales = sorted({2 ** (n_prev - j) for j in used}) if deconv else []   # official skip_deconvx2 / x4
        self.skip_up = nn.ModuleDict({str(s): nn.Sequential(*[nn.ConvTranspose2d(width, width, 2, 2)
                                                              for _ in range(s.bit_length() - 1)]) for s in scales})
        fixed = all(len(o) == 1 for o in (self.convs, self.norms, self.ups, self.shortcuts)) and skips is not None
        self.arch = CellArch(self.convs[0], self.norms[0], self.ups[0], self.shortcuts[0], skips) if fixed else None

    @classmethod
    def fixed(cls, width: int, arch: CellArch) -> "Cell":
        """A cell that holds only the layers ``arch`` uses."""
        return cls(width, len(arch.skips), arch.conv, arch.norm, arch.up, arch.shortcut, arch.skips)

    def _check(self, a: CellArch) -> None:
        if (a.conv not in self.convs or a.norm not in self.norms or a.up not in self.ups
                or a.shortcut not in self.shortcuts or len(a.skips) != self.n_prev
                or (self.skip_options is not None and any(s and not o for s, o in zip(a.skips, self.skip_options)))):
            raise CourseError(f"this cell cannot run {a}: it holds conv {self.convs}, norm {self.norms}, "
                              f"up {self.ups}, shortcut {self.shortcuts}, skips {'any' if self.skip_options is None else self.skip_options}")

    def _up(self, x: torch.Tensor, mode: str, deconv: nn.Module | None) -> torch.Tensor:
        return deconv(x) if mode == "deconv" else F.interpolate(x, scale_factor=2.0, mode=mode)

    def _block(self, x: torch.Tensor, a: CellArch, second: bool) -> torch.Tensor:
        """The first (``second=False``, upsampling) or second conv block of the cell, pre or post."""
        conv = (self.c2 if second else self.c1)[a.conv]
        norm = (self.n2 if second else self.n1)[f"{a.conv}_{a.norm}"] if a.norm else nn.Identity()
        if a.conv == "pre":
            h = F.relu(norm(x))
            return conv(h if second else self._up(h, a.up, self.up1[a.conv] if a.up == "deconv" else None))
        h = x if second else self._up(x, a.up, self.up1[a.conv] if a.up == "deconv" else None)
        return F.relu(norm(conv(h)))

    def forward(self, x: torch.Tensor, prev=(), arch: CellArch | None = None):
        a = arch if arch is not None else self.arch
        if a is None:
            raise CourseError("a shared cell needs the architecture to run: cell(x, prev, arch)")
        self._check(a)
        h = self._block(x, a, second=False)
        for j, (feature, on) in enumerate(zip(prev, a.skips)):
            if on:
                if a.up == "deconv":
                    feature = self.skip_up[str(h.shape[-1] // feature.shape[-1])](feature)
                else:
                    feature = F.interpolate(feature, size=h.shape[-2:], mode=a.up)
                h = h + self.skip[str(j)](feature)
        # The official code adds the skip-ins in place, so the feature a cell passes on includes them.
        out = self._block(h, a, second=True)
        if a.shortcut:
            out = out + self.c_sc(self._up(x, a.up, self.up_sc))
        return h, out


# -- generators ----------------------------------------------------------------------------------

class _CellGenerator(nn.Module):
    def __init__(self, cells: list[Cell], z_dim: int, width: int, channels: int, bottom: int):
        super().__init__()
        self.z_dim, self.width, self.bottom, self.channels = z_dim, width, bottom, channels
        self.project = nn.Linear(z_dim, bottom * bottom * width)
        self.cells = nn.ModuleList(cells)
        self.to_rgb = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def _run(self, z: torch.Tensor, archs) -> torch.Tensor:
        if not 1 <= len(archs) <= len(self.cells):
            raise CourseError(f"this generator runs 1 to {len(self.cells)} cells, not {len(archs)}")
        h, features = self.project(z).view(-1, self.width, self.bottom, self.bottom), []
        for cell, a in zip(self.cells, archs):
            skip, h = cell(h, features, a)
            features.append(skip)
        return self.to_rgb(h)

    def resolution(self, stages: int | None = None) -> int:
        return self.bottom * 2 ** (stages or len(self.cells))


class AutoGANGenerator(_CellGenerator):
    """A fixed generator from ``archs`` (a tuple of CellArch, or the official int vector); 1, 2 or 3
    cells give 8×8, 16×16 or 32×32 images from a 4×4 start. ``forward(z, stages=k)`` runs the first
    k cells only (a partial generator, through the same to-RGB)."""

    def __init__(self, archs, z_dim: int = 128, width: int = 256, channels: int = 3, bottom: int = 4):
        archs = decode(archs) if not isinstance(archs[0], CellArch) else tuple(archs)
        for i, a in enumerate(archs):
            if len(a.skips) != i:
                raise CourseError(f"cell {i + 1} takes {i} skip flags (one per earlier cell), not {len(a.skips)}")
        super().__init__([Cell.fixed(width, a) for a in archs], z_dim, width, channels, bottom)
        self.archs = archs

    def forward(self, z: torch.Tensor, stages: int | None = None) -> torch.Tensor:
        return self._run(z, self.archs[:stages])


class SharedGenerator(_CellGenerator):
    """The supergraph: ``cells`` shared cells holding every choice. ``forward(z, archs)`` runs any
    architecture of 1..cells cells (output 4·2^len(archs) pixels); ``set_arch(archs)`` sets the one
    ``forward(z)`` runs (official ``set_arch``), so code that only calls ``G(z)`` can sample a child."""

    def __init__(self, cells: int = MAX_CELLS, z_dim: int = 128, width: int = 128, channels: int = 3, bottom: int = 4):
        if not 1 <= cells <= MAX_CELLS:
            raise CourseError(f"the search space has 1 to {MAX_CELLS} cells, not {cells}")
        super().__init__([Cell(width, i) for i in range(cells)], z_dim, width, channels, bottom)
        self.arch = None

    def set_arch(self, archs) -> "SharedGenerator":
        self.arch = decode(archs) if not isinstance(archs[0], CellArch) else tuple(archs)
        return self

    def forward(self, z: torch.Tensor, archs=None) -> torch.Tensor:
        archs = self.arch if archs is None else (decode(archs) if not isinstance(archs[0], CellArch) else archs)
        if archs is None:
            raise CourseError("give the shared generator an architecture: G(z, archs) or G.set_arch(archs)")
        return self._run(z, archs)


# -- the discriminator ---------------------------------------------------------------------------

class StageDiscriminator(nn.Module):
    """The official SN-ResNet D (``models_search/shared_gan.py``): an optimised down-block, a down-block
    and a plain block, of which ``stage`` + 1 run (8×8 → 4×4, 16×16 → 4×4, 32×32 → 8×8), then a plain
    block, ReLU, global sum pool and a bias-free dense layer. Stage 2 is the autogan_cifar10_a D."""

    def __init__(self, width: int = 128, channels: int = 3, stage: int = 2, sn: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList([DBlock(channels, width, True, first=True, sn=sn), DBlock(width, width, True, sn=sn),
                                     DBlock(width, width, False, sn=sn)])
        self.last = DBlock(width, width, False, sn=sn)
        self.head = _maybe_sn(nn.Linear(width, 1, bias=False), sn)
        self.stage = stage

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for block in self.blocks[:self.stage + 1]:
            h = block(h)
        return F.relu(self.last(h)).sum((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


def xavier_init(module: nn.Module) -> nn.Module:
    """The official ``weights_init`` (init_type xavier_uniform): Xavier-uniform on every Conv2d weight
    (not deconvs, not dense layers, which keep PyTorch's defaults), BatchNorm gains N(1, 0.02²), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.xavier_uniform_(w.data, 1.0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.zeros_(m.bias.data)
    return module


def autogan_cifar10_a(width: int = 256, z_dim: int = 128, channels: int = 3) -> AutoGANGenerator:
    """The published generator (``models/autogan_cifar10_a.py``): pre-activation cells, no normalisation;
    cell 1 nearest + shortcut; cell 2 bilinear + shortcut + skip-in from cell 1; cell 3 nearest, no
    shortcut, skip-ins from cells 1 and 2. Trained against ``StageDiscriminator(128)``."""
    return xavier_init(AutoGANGenerator(AUTOGAN_CIFAR10_A, z_dim, width, channels))
