"""Notes: the list with search, pinning and tags, and the editor bound to the text CRDT."""

from ui.notes.editor import NoteEditor
from ui.notes.model import NoteRow, NotesModel
from ui.notes.pane import NotesPane

__all__ = ["NoteEditor", "NoteRow", "NotesModel", "NotesPane"]
