"""What the Challenge panel and ``train --challenge`` say, computed without Textual: when the run
evaluates, why nothing more counts (and what starts it again), the verdict lines."""

from __future__ import annotations

from model.challenges import Attempt, ChallengeTracker, Evaluation, Verdict, check, get_challenge
from tui.session.events import ChallengeUpdate
from tui.view.challenge import ChallengeState, over_text, panel_rows, result_lines


def update(verdict: Verdict, spent: bool) -> ChallengeUpdate:
    return ChallengeUpdate(verdict, 0, False, {"changes": {}, "resets": 0}, spent)


def at(valid: float, epoch: float = 1.0) -> Evaluation:
    return Evaluation(int(epoch * 782), int(epoch * 50_000), epoch, int(epoch * 50_000), valid, valid + 0.001)


def test_before_any_evaluation_the_panel_says_when_one_comes() -> None:
    rows = {label: text for label, text, _ in panel_rows(ChallengeState(get_challenge("too-hot")))}
    assert rows["Now"] == "no evaluation yet (every 10,000 examples, epoch ends, or e)"
    rows = {label: text for label, text, _ in panel_rows(ChallengeState(get_challenge("stale")))}
    assert rows["Now"] == "no evaluation yet (epoch ends, or e)"


def test_why_nothing_more_counts_names_the_limit_and_the_way_back() -> None:
    stale = get_challenge("stale")  # 3 epochs of the weights trained: a reset gives fresh ones
    spent = check(stale, Attempt([at(0.08, 3.0)]))
    assert (
        over_text(stale, update(spent, spent=True))
        == "the epochs are used up (best valid 8.00%; r trains fresh weights from the start)"
    )
    assert over_text(stale, update(spent, spent=False)) == ""  # it still can count
    speedrun = get_challenge("speedrun")  # a budget of examples: resets included
    assert over_text(speedrun, update(check(speedrun, Attempt([at(0.03)])), spent=True)).startswith(
        "the budget of examples is used up (best valid 3.00%; c starts"
    )
    hot = get_challenge("too-hot")  # no reset allowed: its epoch is the attempt
    broken = check(hot, Attempt([at(0.2, 0.5)], broken="the weights were reset (this challenge allows no reset)"))
    assert over_text(hot, update(broken, spent=True)) == (
        "the weights were reset (this challenge allows no reset); c starts a challenge again"
    )
    solved = check(hot, Attempt([at(0.04, 0.6)]))
    assert over_text(hot, update(solved, spent=True)) == ""  # solved is not over


def test_train_says_solved_with_what_it_took_or_not_with_the_best() -> None:
    hot = get_challenge("too-hot")
    tracker = ChallengeTracker(hot)
    tracker.add(at(0.2, 0.2))
    assert result_lines(hot, tracker, "run-1") == [
        "challenge too-hot: not solved (best valid 20.00%; the goal is validation error < 5.00% within 1 epoch, "
        "no reset)",
        "  hints: mnist-tui challenge too-hot (i reveals them)",
    ]
    tracker.add(at(0.045, 0.6), hot.start_hparams().validated(lr=0.05))
    head, took = result_lines(hot, tracker, "run-1")
    assert (
        head.startswith("challenge too-hot: solved: valid 4.50% < 5.00%") and took == "  it took: lr 0.05 (run run-1)"
    )
