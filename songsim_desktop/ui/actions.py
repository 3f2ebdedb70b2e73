"""Taking results out of the app: copy paths, reveal in the file manager, export an M3U playlist.

Small functions, so the tabs and the tests share one implementation of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Sequence

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from songsim_desktop import atomic
from songsim_desktop.core.audio import SUPPORTED_EXTENSIONS
from songsim_desktop.core.scan import is_supported
from songsim_desktop.errors import SongsimError

AUDIO_FILTER = ("Audio files (" + " ".join(f"*{ext}" for ext in sorted(SUPPORTED_EXTENSIONS))
                + ");;All files (*)")  # for file dialogs


def copy_paths(paths: Sequence[str]) -> str:
    text = "\n".join(str(p) for p in paths)
    QGuiApplication.clipboard().setText(text)
    return text


def reveal_in_folder(path: str) -> QUrl:
    """Open the folder holding ``path`` in the desktop's file manager."""
    url = QUrl.fromLocalFile(str(Path(path).parent))
    QDesktopServices.openUrl(url)
    return url


def m3u_text(entries: Iterable[tuple[str, Optional[str], Optional[str], Optional[float]]]) -> str:
    """Extended M3U: (path, title, artist, duration_s) per entry; paths are absolute."""
    lines = ["#EXTM3U"]
    for path, title, artist, duration in entries:
        seconds = -1 if duration is None else int(round(duration))
        name = " - ".join(x for x in (artist, title or Path(path).stem) if x)
        lines.append(f"#EXTINF:{seconds},{name}")
        lines.append(str(path))
    return "\n".join(lines) + "\n"


def export_m3u(out_path: str | Path, entries) -> Path:
    """Write the playlist atomically (UTF-8, so an .m3u8 reader and most DAWs take unicode paths)."""
    out = Path(out_path)
    try:
        atomic.write_text(out, m3u_text(entries))
    except OSError as err:
        raise SongsimError(str(err), path=out, action="exporting the playlist to") from err
    return out


def classify_drop(urls: Sequence[QUrl]) -> tuple[list[str], list[str]]:
    """Split dropped URLs into (folders, audio files); anything else is ignored."""
    folders, files = [], []
    for url in urls:
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.is_dir():
            folders.append(str(path))
        elif is_supported(path.name):
            files.append(str(path))
    return folders, files
