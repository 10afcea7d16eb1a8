"""gancourse.timing: where a notebook's minutes go, buckets nested without double counting."""
import pytest

from gancourse import timing


@pytest.fixture
def clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    timing.reset()
    yield now
    timing.reset()


def test_nested_buckets_count_once(clock):
    with timing.bucket("training"):
        clock[0] += 10                       # ten seconds of training
        with timing.bucket("evaluation"):    # a quality curve inside the training loop
            clock[0] += 3
        clock[0] += 2
    assert timing.totals(wall=20.0) == {"training": 12.0, "evaluation": 3.0, "plotting": 0.0, "other": 5.0}


def test_decorator_reset_and_unknown_bucket(clock):
    @timing.timed("evaluation")
    def fid():
        clock[0] += 4
        return 1.5
    assert fid() == 1.5 and fid.__name__ == "fid"
    assert timing.totals()["evaluation"] == 4.0
    timing.reset()
    assert timing.totals() == {"training": 0.0, "evaluation": 0.0, "plotting": 0.0}
    with pytest.raises(ValueError, match="unknown timing bucket"):
        with timing.bucket("coffee"):
            pass


def test_an_exception_still_closes_its_bucket(clock):
    with pytest.raises(RuntimeError):
        with timing.bucket("training"):
            clock[0] += 1
            raise RuntimeError("diverged")
    with timing.bucket("evaluation"):
        clock[0] += 2
    assert timing.totals() == {"training": 1.0, "evaluation": 2.0, "plotting": 0.0}


def test_rendering_a_figure_counts_as_plotting(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    timing.reset()
    timing.time_plotting()
    timing.time_plotting()                   # idempotent: not wrapped twice
    fig, ax = plt.subplots()
    ax.plot(range(1000))
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
    assert timing.totals(digits=6)["plotting"] > 0 and timing.totals()["training"] == 0
