"""Issue 14, the command line: --data-dir placement, one bad query reference among several, -k,
a data folder that is a file, an index path that is a folder, decoder chatter on stderr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from songsim_desktop import cli
from songsim_desktop.core import synth

FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing")]


@pytest.fixture
def library(tmp_path) -> tuple[Path, list[Path]]:
    """A small indexed library: (data folder, its tracks)."""
    data = tmp_path / "data"
    made = sorted(synth.write_library(tmp_path / "music", FAMILIES, 2, 6.5))
    assert cli.main(["--data-dir", str(data), "index", str(tmp_path / "music"), "--workers", "0"]) == 0
    return data, made


def test_data_dir_is_accepted_after_the_command_too(library, capsys):
    data, made = library
    music = str(made[0].parents[1])
    assert cli.main(["index", music, "--workers", "0", "--data-dir", str(data)]) == 0
    assert f"{music}: 0 added, 0 updated, {len(made)} unchanged" in capsys.readouterr().out
    assert cli.main(["status", "--json", "--data-dir", str(data)]) == 0
    assert f'"data_dir": "{data}"' in capsys.readouterr().out
    assert cli.main(["--data-dir", str(data), "status"]) == 0  # and before it, as always
    assert f"{len(made)} ok" in capsys.readouterr().out


def test_one_unreadable_reference_fails_alone_and_the_others_are_answered(library, tmp_path, capsys):
    data, made = library
    loop = tmp_path / "loop.wav"
    os.symlink(loop, loop)
    capsys.readouterr()
    code = cli.main(["--data-dir", str(data), "query", str(made[0]), str(loop), str(made[1]), "-k", "2"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_SOME_FAILED
    assert f"songsim: error: while decoding {loop}: cannot read the file (Too many levels of symbolic links)" in err
    assert "unexpected" not in err
    assert out.count("(model ") == 2 and f"{made[1]}  (model " in out  # the one after it too


@pytest.mark.parametrize("k", ["100000000000000000000", "10001", "0"])
def test_an_absurd_k_is_refused_with_a_usage_error(library, capsys, k):
    data, made = library
    assert cli.main(["--data-dir", str(data), "query", str(made[0]), "-k", k]) == cli.EXIT_USAGE
    assert f"-k must be between 1 and {cli.MAX_K}" in capsys.readouterr().err


def test_a_data_dir_that_is_a_file_says_so(tmp_path, capsys):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("x")
    assert cli.main(["status", "--data-dir", str(not_a_folder)]) == cli.EXIT_FATAL
    err = capsys.readouterr().err
    assert f"while opening the data folder {not_a_folder}: it is a file, not a folder" in err
    assert "unexpected" not in err


def test_an_index_path_that_is_a_folder_says_what_to_do(library, capsys):
    data, made = library
    for index_file in (data / "index").glob("*.hnsw*"):
        index_file.unlink()
    from songsim_desktop.core.service import SongsimService

    with SongsimService(data) as svc:
        blocker = data / "index" / f"{svc.active_model_id()}.hnsw"
    blocker.mkdir(parents=True)
    (blocker / "keep.txt").write_text("someone's file")
    capsys.readouterr()
    assert cli.main(["--data-dir", str(data), "query", str(made[0])]) == cli.EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert f"while saving the vector index {blocker}: a folder is in the way: remove or rename it" in err
    assert (blocker / "keep.txt").read_text() == "someone's file"  # never deleted for the user


def test_decoder_chatter_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    data = tmp_path / "data"
    # MP3s outside the library: decoded in this process, with a seek per crop (libmpg123 chatters)
    refs = [synth.write_track(tmp_path / f"ref{i}.mp3", FAMILIES[i], 60.0, seed=i) for i in range(2)]
    assert cli.main(["--data-dir", str(data), "query", *map(str, refs)]) == 0
    err = capfd.readouterr().err
    assert "mpg123" not in err and "part2_3_length" not in err
    assert "part2_3_length" in (data / "logs" / "decoders.log").read_text()  # kept for diagnosis
    os.write(2, b"still the terminal\n")  # and stderr is restored afterwards
    assert "still the terminal" in capfd.readouterr().err
