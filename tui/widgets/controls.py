"""The controls panel: one editable field per hyperparameter, generated from ``model.config.SPECS``.

Keys inside a field:
    type a value, Enter     parse with ``model.config.parse_value``; a bad value shows a
                            one-line message under the field and the old value stays
    ] / [                   nudge the value up / down (keys no value contains, so a
                            typed "-1" or "1e-3" is never taken for a nudge):
                            learning rate and weight decay x / ÷ 10^(1/4) (four steps per
                            decade, rounded to 3 digits; weight decay steps 0 <-> 1e-5),
                            momentum and lr decay halve / double the gap to 1 (0.9 -> 0.95),
                            batch size and hidden units double / halve, the target
                            error +/- half a percentage point (down to 0: off), other
                            whole numbers +1 / -1, choices cycle
    up / down, tab          previous / next field
    Escape                  leave the field (letter shortcuts work again)

A field whose name is in ``SPECS`` appears with no change here; ``LABELS`` and
``NUDGE`` only refine the label and the nudge rule. A variant's own options (sigma,
stale k) show only while the chosen backward-pass variant reads them, and the settings most runs
leave alone (``ON_DEMAND``) once they are set or asked for. Architecture
fields (hidden units, activation, seed) say "applies on r (reset)" while the trainer
reports them pending (``show_pending``). Each row (``FieldRow``) validates what is typed or
nudged, once; the panel posts ``ControlsPanel.Changed`` with the one field that changed (a field a challenge
keeps fixed is locked: greyed out and skipped by the focus keys); it holds no
copy of the hyperparameters (each field shows its committed value) and never talks to
the trainer itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from model.config import ARCHITECTURE_FIELDS, SPECS, HyperParams, check_value, parse_value
from model.variants import VARIANT_OPTIONS, get_variant
from tui.format import format_value

#: Display labels; a field without one shows its name with spaces.
LABELS: dict[str, str] = {
    "lr": "learning rate",
    "batch_size": "batch size",
    "weight_decay": "weight decay",
    "schedule": "lr schedule",
    "lr_decay": "lr decay",
    "hidden": "hidden units",
    "warmup": "lr warm-up",
    "label_smoothing": "smoothing",
}
#: Nudge rule per field: "log" (x 10^(1/4)), "gap" (halve/double 1 - v), "double", "step" (+-1),
#: "points" (+- ``POINT_STEP``, an absolute step for fractions read as percentages), "tenth" (+-0.1,
#: for fields whose useful values start at 0: a log step from 0 would land on 1e-5).
#: Fields not listed: choices cycle, whole numbers step by 1, other numbers use "log".
NUDGE: dict[str, str] = {
    "lr": "log",
    "weight_decay": "log",
    "momentum": "gap",
    "lr_decay": "gap",
    "batch_size": "double",
    "hidden": "double",
    "target_error": "points",
    "warmup": "tenth",
    "label_smoothing": "tenth",
}
#: Settings most runs leave alone (the initial scale, the training set's size, label noise,
#: warm-up, label smoothing): their rows show once they differ from the default (a flag, a preset,
#: a challenge, a loaded run) or when asked for (``show_every_field``, the palette's "Show every
#: setting"), so at 120x40 the fields of exact backprop fit the column without scrolling.
ON_DEMAND = frozenset({"init_scale", "train_size", "label_noise", "warmup", "label_smoothing"})
POINT_STEP = 0.005  # half a percentage point
LOG_STEP = 10**0.25
#: Smallest nonzero value a nudge up reaches from 0 on a log field that allows 0 (weight decay).
LOG_FLOOR = 1e-5
PENDING_NOTE = "applies on r (reset)"
TITLE = "Controls"
EDITING_TITLE = "[b $accent]Controls · editing[/]"  # the key bar shows "esc Leave field"


def label_for(name: str) -> str:
    """The field's label in the panel."""
    return LABELS.get(name, name.replace("_", " "))


def _round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def nudge(name: str, value: Any, direction: int) -> Any:
    """The value one nudge up (direction 1) or down (direction -1) away; ValueError at a limit."""
    spec = SPECS[name]
    if spec.choices:
        i = spec.choices.index(value) if value in spec.choices else -1
        return spec.choices[(i + direction) % len(spec.choices)]
    mode = NUDGE.get(name, "step" if spec.kind is int else "log")
    new: float
    if mode == "log":
        if value <= 0:
            new = LOG_FLOOR if direction > 0 else value
        elif direction < 0 and value <= LOG_FLOOR and spec.low == 0 and not spec.low_open:
            new = 0.0
        else:
            new = _round_sig(value * LOG_STEP**direction)
    elif mode == "gap":
        gap = 1.0 - value
        gap = gap / 2 if direction > 0 else max(gap * 2, 0.01)
        new = round(1.0 - gap, 6)
    elif mode in ("points", "tenth"):
        new = max(0.0, round(value + direction * (POINT_STEP if mode == "points" else 0.1), 6))
    elif mode == "double":
        new = value * 2 if direction > 0 else value // 2
    else:
        new = value + direction
    new = int(new) if spec.kind is int else float(new)
    try:
        check_value(name, new)
    except ValueError:
        bound = spec.low if direction < 0 else spec.high
        closed = not (spec.low_open if direction < 0 else spec.high_open)
        if bound is None or not closed:
            raise ValueError(f"{name} is at its limit ({format_value(value)})") from None
        new = int(bound) if spec.kind is int else float(bound)
    if new == value:
        raise ValueError(f"{name} is at its limit ({format_value(value)})")
    return new


class FieldInput(Input):
    """A one-line input for one hyperparameter; ``]`` / ``[`` nudge its value up / down."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Previous field", show=False),
        Binding("down", "move(1)", "Next field", show=False),
        Binding("right_square_bracket", "nudge(1)", "Nudge up", key_display="]"),
        Binding("left_square_bracket", "nudge(-1)", "Nudge down", key_display="["),
        Binding("escape", "leave", "Leave field"),
    ]
    NUDGE_KEYS: ClassVar[dict[str, int]] = {"]": 1, "[": -1}

    @dataclass
    class Nudged(Message):
        """``]`` or ``[`` was pressed in the field (any edit is dropped first)."""

        field: FieldInput
        direction: int

    def __init__(self, field_name: str, value: Any) -> None:
        spec = SPECS[field_name]
        super().__init__(
            format_value(value),
            id=f"field-{field_name}",
            classes="field-input",
            compact=True,
            select_on_focus=True,
            suggester=SuggestFromList(spec.choices, case_sensitive=False) if spec.choices else None,
            tooltip=spec.help,
        )
        self.field_name = field_name
        self.committed_value = value  # the field's value (valid), as the run has it
        self.committed = format_value(value)

    @property
    def dirty(self) -> bool:
        """True while the text differs from the field's value (the user is typing)."""
        return self.value != self.committed

    def show_value(self, value: Any) -> None:
        """Display ``value`` as the field's committed value."""
        self.committed_value = value
        self.committed = format_value(value)
        self.value = self.committed
        if self.has_focus:
            self.select_all()

    @property
    def row_shown(self) -> bool:
        """False when the field's row is hidden (a variant option the variant does not read)."""
        row = self.parent.parent if self.parent is not None else None
        return row is None or bool(row.display)

    def revert(self) -> None:
        """Drop any edit and show the committed value again."""
        if self.dirty:
            self.value = self.committed

    async def _on_key(self, event: events.Key) -> None:
        if self.screen.focused is not self:
            # Typed while a quick arrow key or Escape was moving the focus away: the app queued
            # it here first. Hand it back so it goes where the focus is now.
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        moves = {"up": lambda: self.action_move(-1), "down": lambda: self.action_move(1), "escape": self.action_leave}
        if event.key in moves:
            # Here, not only through BINDINGS (which run once the key has bubbled up to the app):
            # keys typed right after must already find the focus moved.
            event.stop()
            event.prevent_default()
            moves[event.key]()
            return
        if event.character in self.NUDGE_KEYS:
            event.stop()
            event.prevent_default()  # Input's own handler would type the character
            self.action_nudge(self.NUDGE_KEYS[event.character])

    def action_nudge(self, direction: int) -> None:
        """Nudge the committed value (an unfinished edit is dropped: the nudge says what it set)."""
        self.revert()
        self.post_message(self.Nudged(self, direction))

    def action_move(self, step: int) -> None:
        """Focus the previous/next shown field in the panel (wrapping)."""
        fields = [f for f in self.screen.query(FieldInput) if f is self or (f.row_shown and not f.disabled)]
        if self in fields:
            # at once, not on the next idle moment (as focus() does): a second key pressed meanwhile
            # must move on from the new field
            self.screen.set_focus(fields[(fields.index(self) + step) % len(fields)])

    def action_leave(self) -> None:
        """Drop the edit and take focus away so app shortcuts work."""
        self.revert()
        self.screen.set_focus(None)


class FieldRow(Vertical):
    """One field's row: its label and input, the one-line message under it and the "applies on r"
    note. It turns what is typed or nudged into a valid value, shown and announced (``Set``), or a
    message under the field while the old value stays."""

    @dataclass
    class Set(Message):
        """The user set the row's field ``name`` to ``value`` (valid, and new)."""

        name: str
        value: Any

    def __init__(self, name: str, value: Any) -> None:
        super().__init__(classes="field", id=f"row-{name}")
        self.field = FieldInput(name, value)
        self._error = Label("", classes="field-error", id=f"error-{name}")
        self._pending = Label(PENDING_NOTE, classes="field-pending", id=f"pending-{name}")

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(label_for(self.field.field_name), classes="field-label")
            yield self.field
        yield self._error
        yield self._pending

    @property
    def error(self) -> str:
        """The inline message under the field ("" when none)."""
        return str(self._error.content)

    def set_error(self, text: str) -> None:
        """Show ``text`` under the field ("" hides the message)."""
        self._error.update(text)
        self._error.set_class(bool(text), "-shown")
        if text and self.is_mounted:
            self.call_after_refresh(self._error.scroll_visible)  # in a scrolled column, bring it into view

    @property
    def pending(self) -> bool:
        """True while the field is marked as waiting for a reset."""
        return self._pending.has_class("-shown")

    def set_pending(self, waiting: bool) -> None:
        """Mark (or unmark) the field as waiting for a reset."""
        self._pending.set_class(waiting, "-shown")

    def commit(self, value: Any) -> None:
        """Show ``value`` (valid: from ``parse_value`` or ``nudge``) and announce it if it is new."""
        self.set_error("")
        changed = value != self.field.committed_value
        self.field.show_value(value)
        if changed:
            self.post_message(self.Set(self.field.field_name, value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        field = self.field
        try:  # the submitted text: an Escape typed right after Enter may have reverted the field already
            value = parse_value(field.field_name, event.value)
        except ValueError as exc:
            self.set_error(str(exc))
            field.value = field.committed
            field.select_all()
            return
        self.commit(value)
        field.select_all()

    @on(FieldInput.Nudged)
    def _nudged(self, event: FieldInput.Nudged) -> None:
        event.stop()
        try:
            value = nudge(self.field.field_name, self.field.committed_value, event.direction)
        except ValueError as exc:
            self.set_error(str(exc))
            return
        self.commit(value)
        self.field.select_all()

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        event.stop()
        if self.field.dirty:
            self.set_error("")

    @on(Input.Blurred)
    def _blurred(self, event: Input.Blurred) -> None:
        event.stop()
        self.field.revert()
        self.set_error("")  # left: the message has done its job


class ControlsPanel(Vertical):
    """Editable hyperparameters, starting from ``hp``: one ``FieldRow`` per field of ``SPECS``, which
    rows are on show, which fields are locked, and one ``Changed`` message per change."""

    @dataclass
    class Changed(Message):
        """The user set field ``name`` to ``value`` (already valid)."""

        name: str
        value: Any

    def __init__(self, hp: HyperParams, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # the fields hold the values from here on (no copy of ``hp`` is kept to go stale)
        self._rows = {name: FieldRow(name, getattr(hp, name)) for name in SPECS}
        self._revealed: set[str] = set()  # on-demand fields shown (once shown, a row stays)
        self.border_title = TITLE

    def compose(self) -> ComposeResult:
        yield from self._rows.values()

    def on_mount(self) -> None:
        self._update_variant_options()

    @on(events.DescendantFocus)
    @on(events.DescendantBlur)
    def _highlight(self, event: events.DescendantFocus | events.DescendantBlur) -> None:
        """Mark the panel while a field has focus, in its title. (A ``:focus-within`` border rule
        would make Textual restyle every field, and a border change relayout the screen, on each
        focus change: the slowest part of moving focus while training runs.)"""
        self.border_title = EDITING_TITLE if isinstance(event, events.DescendantFocus) else TITLE

    # ---- public -------------------------------------------------------------------------
    def field(self, name: str) -> FieldInput:
        """The input of field ``name``."""
        return self._rows[name].field

    def shown_fields(self) -> list[str]:
        """Names of the fields on show, top to bottom."""
        return [n for n, row in self._rows.items() if row.display]

    def lock_fields(self, names: Iterable[str], why: str) -> None:
        """Fields that keep their value (a challenge's fixed settings): greyed out, never focused,
        ``why`` as their tooltip."""
        for name in names:
            field = self.field(name)
            field.disabled = True
            field.tooltip = why

    def unlock_fields(self) -> None:
        """Every field editable again (a new run with no fixed settings)."""
        for row in self._rows.values():
            if row.field.disabled:
                row.field.disabled = False
                row.field.tooltip = SPECS[row.field.field_name].help

    def focus_first(self) -> None:
        """Focus the first field, ready to type (Escape leaves it)."""
        self.screen.set_focus(self.field(next(iter(SPECS))))  # at once, for keys typed right after

    def error_text(self, name: str) -> str:
        """The inline message under field ``name`` ("" when none)."""
        return self._rows[name].error

    def value(self, name: str) -> Any:
        """Field ``name``'s committed value."""
        return self.field(name).committed_value

    def set_hparams(self, hp: HyperParams) -> None:
        """Show ``hp`` in every field (a loaded run's settings); nothing is pending then."""
        for name, row in self._rows.items():
            row.field.show_value(getattr(hp, name))
            row.set_error("")
        self.show_pending(())
        self._update_variant_options()

    def show_values(self, changes: dict[str, Any]) -> None:
        """Show values the run took from elsewhere (e.g. a longer epoch budget); a field being
        edited keeps the user's text."""
        for name, value in changes.items():
            field = self.field(name)
            if not field.dirty and value != field.committed_value:
                field.show_value(value)
        self._update_variant_options()

    def show_pending(self, names: tuple[str, ...] | list[str]) -> None:
        """Mark the architecture fields ``names`` as waiting for a reset (and no others)."""
        for name in ARCHITECTURE_FIELDS & set(SPECS):
            self._rows[name].set_pending(name in names)

    def pending(self) -> list[str]:
        """Architecture fields marked as waiting for a reset."""
        return [n for n, row in self._rows.items() if row.pending]

    def show_every_field(self) -> None:
        """Show the on-demand fields too (``ON_DEMAND``), whatever their values."""
        self._revealed |= ON_DEMAND
        self._update_variant_options()

    @on(FieldRow.Set)
    def _changed(self, event: FieldRow.Set) -> None:
        event.stop()
        self._update_variant_options()
        self.post_message(self.Changed(event.name, event.value))

    def _update_variant_options(self) -> None:
        """Show sigma / stale k only while the chosen variant reads them, and an on-demand field
        once its value is not the default (or every field was asked for)."""
        used = get_variant(self.value("variant")).options
        for name in VARIANT_OPTIONS:
            if name in SPECS:
                self._rows[name].display = name in used
        default = HyperParams()
        for name in ON_DEMAND & set(SPECS):
            if self.value(name) != getattr(default, name):
                self._revealed.add(name)
            self._rows[name].display = name in self._revealed
