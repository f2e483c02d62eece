"""The PySide6 desktop app: calendar views, notes editor, devices panel. Qt lives only here."""
