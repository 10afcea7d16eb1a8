import pytest
import torch

from gancourse import CourseError, profiles


def test_every_notebook_has_every_profile_with_the_same_keys():
    for nb, table in profiles._SETTINGS.items():
        assert set(table) == set(profiles.PROFILES), nb
        keys = {frozenset(v) for v in table.values()}
        assert len(keys) == 1, f"{nb}: profiles disagree on their settings' names"


def test_what_a_profile_means_is_data():
    smoke, laptop = profiles.PROFILES["smoke"], profiles.PROFILES["laptop"]
    assert not smoke.claims and smoke.packaged_data and smoke.data_cap
    assert laptop.claims and not laptop.needs_gpu and laptop.eval_draws >= 3
    assert profiles.CLAIM_PROFILES == ("laptop", "course", "paper")


def test_settings_and_overrides():
    s = profiles.settings("01_gan_foundations", "smoke", toy_steps=7)
    assert s.profile == "smoke" and s.toy_steps == 7 and s.eval_draws == profiles.PROFILES["smoke"].eval_draws
    assert profiles.settings("01_gan_foundations", "course").dcgan_steps > s.dcgan_steps
    assert profiles.settings("04_pggan_swd", "smoke", kimg=2).kimg == 2.0            # an int where a float is fine
    assert "eval_draws" in profiles.setting_names("01_gan_foundations") and profiles.setting_names("99_x") == []


@pytest.mark.parametrize("call,needle", [
    (lambda: profiles.settings("01_gan_foundations", "huge"), "choose one of smoke, laptop, course, paper"),
    (lambda: profiles.settings("99_nothing", "smoke"), "known: 00_setup"),
    (lambda: profiles.settings("01_gan_foundations", "smoke", not_a_setting=1), "known: dcgan_batch"),
    (lambda: profiles.settings("01_gan_foundations", "smoke", toy_steps="many"), "is a int (e.g. 600), not 'many'"),
    (lambda: profiles.settings("01_gan_foundations", "smoke", toy_steps=-5), "must be positive, not -5"),
    (lambda: profiles.settings("01_gan_foundations", "smoke", toy_steps=2.5), "is a int"),
])
def test_errors_name_the_valid_choices(call, needle):
    with pytest.raises(CourseError) as e:
        call()
    assert needle in str(e.value)


def test_pick_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.pick_device("auto", "smoke").type == "cpu"
    assert profiles.pick_device("auto", "laptop").type == "cpu"          # refuses nothing on a CPU
    with pytest.raises(CourseError, match="laptop"):
        profiles.pick_device("auto", "course")
    with pytest.raises(CourseError, match="no GPU"):
        profiles.pick_device("cuda", "smoke")
    with pytest.raises(CourseError, match="'auto', 'cpu' or 'cuda"):
        profiles.pick_device("gpu", "smoke")
    assert profiles.pick_device("cpu", "course").type == "cpu"  # forced on purpose


def test_seed_everything_repeats():
    profiles.seed_everything(3)
    a = torch.randn(4)
    profiles.seed_everything(3)
    assert torch.equal(a, torch.randn(4))
