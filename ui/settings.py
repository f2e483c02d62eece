"""Settings: where the library lives (the data folder), kept in QSettings; used at next start.
And the first-run welcome, where the user names this device."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localfirst import Replica
    from ui.backend import Backend

from ui.qt import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSettings,
    QVBoxLayout,
    QWidget,
    qconnect,
)

ORGANIZATION = "localfirst"
APPLICATION = "localfirst"
DATA_DIR_KEY = "data_dir"


def settings() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


def saved_data_dir() -> Path | None:
    value = settings().value(DATA_DIR_KEY)
    return Path(str(value)) if value else None


def save_data_dir(path: Path | None) -> None:
    store = settings()
    if path is None:
        store.remove(DATA_DIR_KEY)
    else:
        store.setValue(DATA_DIR_KEY, str(path))
    store.sync()


class SettingsDialog(QDialog):
    """Choose the data folder; the change applies when the app starts next."""

    def __init__(self, current: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.folder = QLineEdit(str(saved_data_dir() or current))
        browse = QPushButton("Choose…")
        qconnect(browse.clicked, self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Data folder", row)
        note = QLabel(
            "The library, this device's identity and keys live in this folder. "
            "A new folder starts a new library. Changes apply when the app starts next."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        qconnect(buttons.accepted, self.accept)
        qconnect(buttons.rejected, self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Data folder", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def accept(self) -> None:
        text = self.folder.text().strip()
        save_data_dir(Path(text).expanduser() if text else None)
        super().accept()


MIRROR_KEY = "mirror_folder"


def saved_mirror_folder() -> Path | None:
    """The folder the library is mirrored into as plain files, if the user chose one."""
    value = settings().value(MIRROR_KEY)
    return Path(str(value)) if value else None


def save_mirror_folder(path: Path | None) -> None:
    store = settings()
    if path is None:
        store.remove(MIRROR_KEY)
    else:
        store.setValue(MIRROR_KEY, str(path))


#: Longest device name kept (the schema's limit for a name).
MAX_DEVICE_NAME = 200


class WelcomeDialog(QDialog):
    """First run: what the app keeps where, and a name for this device (so paired devices can be
    told apart: two machines need not share a host name's meaning to the user)."""

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.setWindowTitle("Welcome")
        intro = QLabel(
            "Your calendar and notes are kept on this device and work without a network. "
            "A calendar named “Personal” is ready for your events. To use the same library on "
            "another device, pair it in the Devices tab: changes then sync directly, encrypted."
        )
        intro.setWordWrap(True)
        self.name = QLineEdit()
        self.name.setMaxLength(MAX_DEVICE_NAME)
        self.name.setPlaceholderText("For example: Work laptop")
        self.backend.op(_own_name).success(self._loaded).run_in_background()
        form = QFormLayout()
        form.addRow("Name of this device", self.name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        qconnect(buttons.accepted, self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(480, 200)

    def _loaded(self, name: str) -> None:
        if not self.name.text():
            self.name.setText(name)
            self.name.selectAll()

    def accept(self) -> None:
        name = self.name.text().strip()[:MAX_DEVICE_NAME]
        if name:
            self.backend.op(lambda r: r.put("device", r.device, {"name": name})).run_in_background()
        super().accept()


def _own_name(r: Replica) -> str:
    return str(r.members().get(r.device, ""))
