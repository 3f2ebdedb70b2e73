"""The model list: the library database alone decides the active model; a new default re-embeds at start."""

from __future__ import annotations

import json
import shutil

from core.test_jobs import copy_model_with_new_id
from songsim_desktop import paths
from songsim_desktop import settings as settings_mod
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from ui.conftest import wait_for_worker, wait_idle


def test_the_next_gui_start_keeps_the_model_the_cli_activated(qtbot, scanned_service, make_window, tmp_path):
    """Regression (issue 9, bug 2): the GUI remembered the active model in its settings too, and at the
    next start switched back to it (and re-embedded) after `songsim models activate X`."""
    default = scanned_service.active_model_id()
    first = make_window(scanned_service, settings=settings_mod.load())
    settings_mod.save(first.ctx.settings)  # what closing the GUI does
    # A settings file as the previous version wrote it, naming the model active back then.
    path = settings_mod.settings_path()
    old = json.loads(path.read_text()) | {"schema_version": 2, "active_model": default}
    path.write_text(json.dumps(old))
    other = scanned_service.register_model(copy_model_with_new_id(tmp_path, "other")).id
    drive(scanned_service.switch_model_job(other))  # what `songsim models activate` does
    window = make_window(scanned_service, settings=settings_mod.load())
    wait_idle(qtbot, window)
    assert scanned_service.active_model_id() == other
    panel = window.training_tab.models_panel
    assert panel.reembed_worker is None  # nothing was switched or re-embedded at start
    shown = [panel.models_list.item(i).text() for i in range(panel.models_list.count())]
    assert any(other in text and text.startswith("●") for text in shown)


def test_a_new_shipped_default_re_embeds_in_the_background_at_start(qtbot, scanned_template, isolated_data_dir,
                                                                    make_window, tmp_path, monkeypatch):
    shutil.copytree(scanned_template, isolated_data_dir, dirs_exist_ok=True)  # scanned with the old default
    new_default = copy_model_with_new_id(tmp_path, "next-version-default")
    monkeypatch.setattr(paths, "default_model_path", lambda: new_default)
    with SongsimService() as svc:
        old = svc.active_model_id()
        assert svc.default_upgrade_from == old != svc.default_model_id
        window = make_window(svc)
        panel = window.training_tab.models_panel
        wait_for_worker(qtbot, panel.reembed_worker, timeout=120000)
        wait_idle(qtbot, window)
        assert svc.active_model_id() == svc.default_model_id
        assert svc.library.vector_count(svc.default_model_id) == len(svc.tracks())
        assert [m.id for m in svc.models()] == [svc.default_model_id]
        assert panel.models_list.count() == 1
