"""Profiles and the server-side check of spawn options: pure, no hub."""

from __future__ import annotations

import pytest

from mutirao_spawner.profiles import (
    CPU_PROFILE,
    MAX_GPUS,
    ProfileError,
    allowed_profiles,
    choose,
    parse_profiles,
)

PROFILES = parse_profiles(
    [
        {"name": "cpu", "images": ["base:1", "base:2"]},
        {"name": "gpu", "images": ["torch:1"], "gpu_counts": [1, 2], "max_runtime_s": 60},
        {"name": "mig", "gpu_counts": [1], "mig_profile": "1g.10gb"},
    ]
)
TEAMS = {"ml": ["gpu"], "infra": ["mig", "gpu"]}


def test_no_profiles_means_one_cpu_profile():
    assert parse_profiles([]) == [CPU_PROFILE]
    assert CPU_PROFILE.gpu_counts == (0,)


def test_first_image_and_count_are_defaults():
    gpu = PROFILES[1]
    assert (gpu.image, gpu.gpus, gpu.max_runtime_s) == ("torch:1", 1, 60)


@pytest.mark.parametrize(
    ("teams", "names"),
    [(set(), ["cpu"]), ({"ml"}, ["cpu", "gpu"]), ({"infra"}, ["cpu", "gpu", "mig"])],
)
def test_profiles_listed_for_teams_are_theirs_only(teams, names):
    assert [p.name for p in allowed_profiles(PROFILES, TEAMS, teams)] == names


def test_choose_checks_and_fills_in():
    chosen = choose(PROFILES, TEAMS, {"ml"}, {"profile": "gpu", "gpus": "2"})
    assert (chosen.name, chosen.gpus, chosen.image) == ("gpu", 2, "torch:1")
    chosen = choose(PROFILES, TEAMS, {"ml"}, {"profile": ["cpu"], "image": ["base:2"]})
    assert (chosen.name, chosen.image, chosen.gpus) == ("cpu", "base:2", 0)
    assert choose(PROFILES, TEAMS, set(), {}).name == "cpu"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "gpu"}, "profile 'gpu' is not available to bob (available: cpu)"),
        ({"profile": "nope"}, "profile 'nope' is not available"),
        ({"profile": "cpu", "image": "evil:latest"}, "image 'evil:latest' is not allowed"),
        ({"profile": "cpu", "gpus": 1}, "profile 'cpu' allows 0 GPUs, not 1"),
        ({"profile": "cpu", "gpus": -1}, "between 0 and"),
        ({"profile": "cpu", "gpus": "-1"}, "must be a whole number"),
        ({"profile": "cpu", "gpus": 10**12}, "between 0 and"),
        ({"profile": "cpu", "gpus": "9" * 50}, "must be a whole number"),
        ({"profile": "cpu", "gpus": True}, "must be a whole number"),
        ({"profile": "cpu", "gpus": 1.0}, "must be a whole number"),
        ({"profile": 3}, "profile must be a string"),
        ({"profile": "cpu", "cmd": "rm -rf /"}, "unknown spawn option 'cmd'"),
    ],
)
def test_forged_options_get_a_clear_error(options, message):
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose(PROFILES, TEAMS, set(), options, "bob")


def test_a_count_over_what_the_profile_allows_is_refused():
    with pytest.raises(ProfileError, match="allows 1, 2 GPUs, not 3"):
        choose(PROFILES, TEAMS, {"ml"}, {"profile": "gpu", "gpus": 3})
    with pytest.raises(ProfileError, match=f"between 0 and {MAX_GPUS}"):
        choose(PROFILES, TEAMS, {"ml"}, {"profile": "gpu", "gpus": MAX_GPUS + 1})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "imagez": []}, "unknown key 'imagez'"),
        ({"images": []}, "name is required"),
        ({"name": "x", "images": "one:1"}, "images must be a list"),
        ({"name": "x", "gpu_counts": [True]}, "gpu_counts must hold whole numbers"),
        ({"name": "x", "gpu_counts": []}, "non-empty list"),
        ({"name": "x", "max_runtime_s": 0}, "max_runtime_s"),
        ({"name": "x", "cpu_limit": "2"}, "cpu_limit must be a number"),
    ],
)
def test_config_typos_fail_with_the_entry_named(entry, message):
    with pytest.raises(ProfileError, match=message):
        parse_profiles([entry])


def test_duplicate_profile_names_are_refused():
    with pytest.raises(ProfileError, match="configured twice"):
        parse_profiles([{"name": "a"}, {"name": "a"}])


def test_form_and_query_become_the_same_options():
    from mutirao_spawner.local import GPULocalProcessSpawner

    spawner = GPULocalProcessSpawner()
    form = {"profile": ["gpu"], "gpus-gpu": ["2"], "image-gpu": ["torch:1"], "gpus-cpu": ["0"]}
    assert spawner.run_options_from_form(form) == {
        "profile": "gpu",
        "gpus": "2",
        "image": "torch:1",
    }
    query = {"profile": "gpu", "gpus": "1"}
    assert spawner.options_from_query(query) == {"profile": "gpu", "gpus": "1"}
