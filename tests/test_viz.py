import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from gancourse import data
from gancourse.course import viz  # noqa: E402


def test_grid_history_and_scatter_draw():
    ax = viz.show_grid(torch.rand(16, 1, 8, 8) * 2 - 1, nrow=4, title="t")
    assert ax.images and ax.get_title() == "t"
    hist = [dict(step=i, d_loss=1.0 / i, g_loss=float(i)) for i in range(1, 20)]
    ax = viz.plot_history(hist, smooth=5)
    assert len(ax.lines) == 2 and len(ax.lines[0].get_xdata()) == 19
    mix = data.ring8()
    ax = viz.scatter_2d(mix.sample(100), mix, title="ring")
    assert len(ax.collections) == 2


def test_interpolation_paths():
    z0, z1 = torch.randn(3, 5), torch.randn(3, 5)
    for mode in ("linear", "slerp"):
        path = viz.interpolate(z0, z1, 7, mode)
        assert path.shape == (3, 7, 5)
        assert torch.allclose(path[:, 0], z0, atol=1e-5) and torch.allclose(path[:, -1], z1, atol=1e-5)
    # slerp between two vectors of equal norm stays on their sphere
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    assert torch.allclose(viz.interpolate(a, b, 5)[0].norm(dim=1), torch.full((5,), 3.0))


def test_show_source_prints_outside_ipython(capsys, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_ipython(name, *a, **k):
        if name.startswith("IPython"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ipython)
    viz.show_source(viz.slerp)
    assert "def slerp" in capsys.readouterr().out


def test_table_aligns_numbers_and_spreads(capsys):
    from gancourse.course.results import summary
    text = viz.table([dict(row="baseline", modes=summary([20.0, 22.0]), hq=0.91234, note=None),
                      dict(row="+MBD", modes=summary(24.0), hq=0.8, note="x")], floatfmt=".3g", title="t")
    lines = text.splitlines()
    assert lines[0] == "t" and lines[1].split() == ["row", "modes", "hq", "note"]
    assert "21 ± 1.4" in lines[3] and "0.912" in lines[3] and "—" in lines[3]
    assert lines[4].split()[1] == "24"                        # one value: no "± 0"
    assert capsys.readouterr().out.strip() == text
