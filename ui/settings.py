"""Settings: where the library lives (the data folder), kept in QSettings; used at next start."""

from __future__ import annotations

from pathlib import Path

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
