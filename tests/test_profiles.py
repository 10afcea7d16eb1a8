import pytest
import torch

from gancourse import CourseError, profiles


def test_every_notebook_has_every_profile_with_the_same_keys():
    for nb, table in profiles._SETTINGS.items():
        assert set(table) == set(profiles.PROFILES), nb
        keys = {frozenset(v) for v in table.values()}
        assert len(keys) == 1, f"{nb}: profiles disagree on their settings' names"


def test_settings_and_overrides():
    s = profiles.settings("01_gan_foundations", "smoke", toy_steps=7)
    assert s.profile == "smoke" and s.toy_steps == 7
    assert profiles.settings("01_gan_foundations", "course").dcgan_steps > s.dcgan_steps


@pytest.mark.parametrize("call", [
    lambda: profiles.settings("01_gan_foundations", "huge"),
    lambda: profiles.settings("99_nothing", "smoke"),
    lambda: profiles.settings("01_gan_foundations", "smoke", not_a_setting=1),
])
def test_errors_name_the_valid_choices(call):
    with pytest.raises(CourseError) as e:
        call()
    assert "smoke" in str(e.value) or "known" in str(e.value)


def test_pick_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.pick_device("auto", "smoke").type == "cpu"
    with pytest.raises(CourseError, match="smoke"):
        profiles.pick_device("auto", "course")
    with pytest.raises(CourseError, match="no GPU"):
        profiles.pick_device("cuda", "smoke")
    assert profiles.pick_device("cpu", "course").type == "cpu"  # forced on purpose


def test_seed_everything_repeats():
    profiles.seed_everything(3)
    a = torch.randn(4)
    profiles.seed_everything(3)
    assert torch.equal(a, torch.randn(4))
