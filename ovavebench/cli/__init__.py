"""The ``ovavebench`` command line: parses arguments and calls the library.

Nothing here computes anything: one module per command group (:mod:`.metadata`, :mod:`.manifest`,
:mod:`.download`, :mod:`.annotate`, :mod:`.split`, :mod:`.stats`, :mod:`.score`, :mod:`.features`,
:mod:`.baseline`, :mod:`.build`, :mod:`.demo`, :mod:`.results`) forwards to its stage module and formats what it
returns; :mod:`.app` assembles them and :mod:`.common` holds what they share. Errors the user can fix are printed on one
line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

from .app import app, main, run

__all__ = ["app", "main", "run"]
