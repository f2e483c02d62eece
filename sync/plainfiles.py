"""What the user interface uses of the library's files, so ``ui`` never reaches ``storage``.

Import and export of ``.ics`` calendars and Markdown notes, the salvage of a damaged library,
the note search index, and the library files the offline renderer builds its sample data in.
The ``ui`` layer imports these from here; they run on the thread that owns the replica (the
node's, or a local service's).
"""

from __future__ import annotations

from storage import create_library, join_library, open_replica
from storage.files import ImportReport, export_library, import_files
from storage.salvage import Salvaged, salvage
from storage.search import NoteSearch

__all__ = [
    "ImportReport",
    "NoteSearch",
    "Salvaged",
    "create_library",
    "export_library",
    "import_files",
    "join_library",
    "open_replica",
    "salvage",
]
