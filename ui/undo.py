"""Undo for the core's application services: each user action is one ``QUndoCommand`` whose
undo and redo are the service's inverse writes (``localfirst.edits.undo``/``redo``).

A pane calls ``runner.do(lambda r: calendar.move_event(r, ...), stack)``, as Anki's
``CollectionOp(parent, lambda col: ...)``: the job runs on the replica's thread and the command
is pushed at once, so an undo asked for before the job's result came back still undoes it (the
replica's thread runs jobs in order). The command takes the action's name (“Move “Standup””)
from the service's Edit as soon as it is known.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, tzinfo
from typing import Any, Protocol, TypeVar

from localfirst import Replica
from localfirst.edits import Edit, State, redo, undo
from ui.qt import QObject, Qt, QUndoCommand, QUndoStack, Signal

log = logging.getLogger(__name__)
T = TypeVar("T")


class Submitter(Protocol):
    """Whatever runs jobs on the replica's thread, in order (the app's backend)."""

    def submit(self, fn: Callable[[Replica], T]) -> Future[T]: ...


class EditRunner(QObject):
    """Runs service calls for one pane and reports their outcome on the GUI thread.

    Signals:
        edit_did_apply(Edit): an action, its undo or its redo was written.
        edit_will_apply(tuple): an undo or redo is about to write these states (to show at once).
        edit_did_fail(str): a one-line message naming what failed.
    """

    edit_did_apply = Signal(object)
    edit_will_apply = Signal(object)
    edit_did_fail = Signal(str)
    _relay = Signal(object)

    def __init__(self, backend: Submitter, tz: tzinfo = UTC, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.tz = tz
        self._relay.connect(self._call, Qt.ConnectionType.QueuedConnection)

    def _call(self, fn: Callable[[], None]) -> None:
        fn()

    def on_gui(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread (from any thread)."""
        self._relay.emit(fn)

    def do(
        self,
        fn: Callable[[Replica], Edit],
        stack: QUndoStack,
        text: str,
        done: Callable[[Edit], None] | None = None,
    ) -> Future[Edit]:
        """Run a service on the replica's thread and push its undo now; ``text`` names it until
        the service's own label is known."""
        job = self.backend.submit(fn)
        stack.push(EditCommand(self, stack, job, text))
        self.watch(job, text, done)
        return job

    def run(self, fn: Callable[[Replica], Edit | None], what: str) -> None:
        """Run an undo or redo job; report it as applied (or failed)."""
        self.watch(self.backend.submit(fn), what, None)

    def watch(self, job: Future[Any], what: str, done: Callable[[Edit], None] | None) -> None:
        def finish() -> None:
            exc = job.exception()
            if exc is not None:
                log.error("%s failed: %s", what, exc, exc_info=exc)
                self.edit_did_fail.emit(f"{what} failed: {exc}")
                return
            edit = job.result()
            if isinstance(edit, Edit):
                self.edit_did_apply.emit(edit)
                if done is not None:
                    done(edit)

        job.add_done_callback(lambda _f: self.on_gui(finish))


class EditCommand(QUndoCommand):
    """One action done through a core service; undo and redo write only what it changed."""

    def __init__(self, runner: EditRunner, stack: QUndoStack, job: Future[Edit], text: str) -> None:
        super().__init__(text)
        self._runner, self._stack, self._job = runner, stack, job
        self._pushed = False
        job.add_done_callback(lambda _f: runner.on_gui(self._named))

    @property
    def edit(self) -> Edit | None:
        """The action's Edit once done (None while running, or if it failed)."""
        job = self._job
        return job.result() if job.done() and job.exception() is None else None

    def _named(self) -> None:
        edit = self.edit
        if edit is None:
            self.setObsolete(True)
            return
        self.setText(edit.label)
        # The stack tells its listeners (the Edit menu) of new text only on a move: tell them now.
        self._stack.undoTextChanged.emit(self._stack.undoText())
        self._stack.redoTextChanged.emit(self._stack.redoText())

    def _edit_on_worker(self) -> Edit | None:
        # On the replica's thread, after the action's own job (jobs run in order).
        job = self._job
        return job.result() if job.exception() is None else None

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True  # pushed while (or after) the action itself ran
            return
        self._apply(redo, "after")

    def undo(self) -> None:
        self._apply(undo, "before")

    def _apply(self, step: Callable[[Replica, Edit, tzinfo], Edit], side: str) -> None:
        edit, tz, own = self.edit, self._runner.tz, self._edit_on_worker
        if edit is not None:
            states: tuple[State, ...] = edit.before if side == "before" else edit.after
            self._runner.edit_will_apply.emit(states)

        def job(r: Replica) -> Edit | None:
            done = own()
            return None if done is None else step(r, done, tz)

        self._runner.run(job, f"{'Undo' if side == 'before' else 'Redo'} {self.text()}")
