"""Bundle entry point of the desktop app, `songsim-desktop` (PyInstaller script).

freeze_support() first, for the same reason as in entry_cli.py: the decode pool's spawned workers
re-run this executable.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from songsim_desktop.ui.app import main

    sys.exit(main())
