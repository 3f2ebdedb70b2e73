"""Application start-up: QApplication, style, the service, the window; and the last-resort error hook.

``build_window`` is what ``main`` uses and what the tests and the screenshot script use too, so
they exercise the same wiring.  An uncaught exception in a slot reaches the log panel and the
status line (with the traceback in the log file), never a traceback dialog or a dead window.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import Any, Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from songsim_desktop import paths
from songsim_desktop import settings as settings_mod
from songsim_desktop.settings import Settings
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.main_window import MainWindow
from songsim_desktop.ui.player import Player

log = logging.getLogger("songsim.ui")


def application(argv: Optional[list[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("songsim")
    app.setOrganizationName("songsim")
    # Must match packaging/linux/<id>.desktop so Wayland shells pair the window with its menu entry.
    app.setDesktopFileName("io.github.songsim.Songsim")
    icon = paths.resources_dir() / "songsim.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    style = paths.resources_dir() / "songsim.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def build_window(service: Any, settings: Optional[Settings] = None, output=None,
                 catch_exceptions: bool = True) -> MainWindow:
    """The whole GUI on ``service``; ``output`` None = the real sound output (or its reason why not).

    Tests pass ``catch_exceptions=False`` so that pytest-qt, not the log panel, sees a failing slot.
    """
    settings = settings if settings is not None else Settings()
    player = Player(output)
    ctx = AppContext(service, settings, player)
    window = MainWindow(ctx)
    if catch_exceptions:
        install_exception_hook(ctx)
    # First data, fetched by workers: the window shows at once and fills in.
    ctx.refresh_tracks()
    window.start_fetches()
    return window


def install_exception_hook(ctx: AppContext) -> None:
    def report(exc_type, exc, tb) -> None:
        log.error("uncaught error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        # Another thread must not touch widgets: hop to the GUI thread through the event loop.
        QTimer.singleShot(0, ctx, lambda: ctx.notify(f"unexpected error: {exc_type.__name__}: {exc} "
                                                     f"(details in the log panel)", logging.ERROR))

    sys.excepthook = report
    threading.excepthook = lambda args: report(args.exc_type, args.exc_value, args.exc_traceback)


def _log_to_file() -> None:
    handler = logging.FileHandler(paths.data_dir() / "songsim.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    app = application(argv)
    _log_to_file()
    settings = settings_mod.load()
    try:
        from songsim_desktop.core.service import SongsimService
        service = SongsimService()
    except Exception as err:  # noqa: BLE001 - the one failure that stops the app: say why, clearly
        log.exception("cannot open the library")
        QMessageBox.critical(None, "songsim", f"songsim cannot open its library in {paths.data_dir()}:\n\n{err}")
        return 3
    window = build_window(service, settings)
    window.show()
    references = [a for a in argv[1:] if not a.startswith("-")]
    if references:  # `songsim-desktop track.wav` opens straight into a search
        QTimer.singleShot(0, lambda: window.ctx.queryFileRequested.emit(references[0]))

    def save_on_quit() -> None:
        window.store_layout(settings)
        window.ctx.pool.abort_all()
        window.ctx.pool.wait(10000)
        try:
            settings_mod.save(settings)
        except Exception as err:  # noqa: BLE001
            log.error("%s", err)
        close = getattr(service, "close", None)
        if close is not None:
            close()

    app.aboutToQuit.connect(save_on_quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
