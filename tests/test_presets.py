"""Named presets and how the command line layers them: defaults < preset < explicit flags."""

from __future__ import annotations

import pytest

from model.config import HyperParams
from model.presets import PRESETS, get_preset, preset_hparams
from tui.cli import build_parser
from tui.cli.common import hparams_from_args


def test_default_preset_is_the_dataclass_defaults() -> None:
    assert preset_hparams("default") == HyperParams()


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_and_changes_only_real_fields(name: str) -> None:
    preset = get_preset(name)
    hp = preset.hparams()
    assert set(preset.changes) <= set(HyperParams().to_dict())
    for field, value in preset.changes.items():
        assert getattr(hp, field) == value
    assert preset.help and "\n" not in preset.help


def test_best_preset_is_a_wide_decayed_run() -> None:
    hp = preset_hparams("best")
    assert hp.hidden >= 800 and hp.schedule in ("cosine", "exp", "step") and hp.epochs >= 20


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown preset 'fastest'.*default, fast, speedrun, best, best-augment"):
        get_preset("fastest")


def test_overrides_are_validated() -> None:
    with pytest.raises(ValueError, match="hidden"):
        preset_hparams("best", hidden=0)


def hp_for(*argv: str) -> HyperParams:
    hp: HyperParams = hparams_from_args(build_parser().parse_args(list(argv)))
    return hp


def test_no_preset_no_flags_gives_defaults() -> None:
    assert hp_for("train") == HyperParams()
    assert hp_for() == HyperParams()  # the app


def test_preset_fills_fields_and_explicit_flags_win() -> None:
    best = preset_hparams("best")
    hp = hp_for("train", "--preset", "best", "--epochs", "3", "--lr", "0.02")
    assert (hp.epochs, hp.lr) == (3, 0.02)
    assert (hp.hidden, hp.weight_decay, hp.schedule) == (best.hidden, best.weight_decay, best.schedule)


def test_explicit_flag_equal_to_the_default_still_beats_the_preset() -> None:
    default_hidden = HyperParams().hidden
    assert preset_hparams("best").hidden != default_hidden
    assert hp_for("train", "--preset", "best", "--hidden", str(default_hidden)).hidden == default_hidden


def test_app_takes_a_preset_too() -> None:
    assert hp_for("--preset", "fast") == preset_hparams("fast")


def test_unknown_preset_on_the_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--preset", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_best_is_without_augmentation_and_best_augment_shifts() -> None:
    assert preset_hparams("best").augment == 0
    assert preset_hparams("best-augment").augment > 0
