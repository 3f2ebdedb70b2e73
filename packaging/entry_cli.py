"""Bundle entry point of the `songsim` command line (PyInstaller script; installs use the console script).

freeze_support() must run first: the scan's decode pool starts worker processes with the *spawn*
method, and in a frozen app each worker is this same executable started with special arguments.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from songsim_desktop.cli import main

    sys.exit(main())
