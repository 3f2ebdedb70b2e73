"""Render resources/songsim.svg into the hicolor PNG sizes that Linux desktops look up.

    .venv/bin/python packaging/render_icons.py        # rewrites packaging/linux/icons/hicolor/*

QtSvg (already a dependency through PySide6) does the rendering, so no extra tool is needed. The PNGs
are committed: the bundle build and install.sh copy them, and a desktop without SVG support (or a
menu that wants 16x16) still gets a crisp icon. Re-run after the SVG changes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

APP_ID = "io.github.songsim.Songsim"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "resources" / "songsim.svg"
TARGET = REPO / "packaging" / "linux" / "icons" / "hicolor"


def render(svg: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"while rendering {svg}: QtSvg cannot read it")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"while writing {out}: Qt could not save the PNG")


def main() -> int:
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter needs an application object
    for size in SIZES:
        render(SOURCE, size, TARGET / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
    scalable = TARGET / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(SOURCE.read_bytes())
    print(f"rendered {len(SIZES)} sizes + scalable into {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
