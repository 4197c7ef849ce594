"""`fog dataset`'s inputs and --out (fog_training.data.dataset_output and the CLI): what it reads, what
it refuses before any work, and that it never deletes what it did not write. Every bag is written here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fog_training.data import synthetic_bags as sb
from fog_training.data.bag_to_dataset import main as dataset_main
from fog_training.data.episode_store import EpisodeStore

HW = (24, 32)  # camera frames (small: fast tests)


def _bag(tmp_path, name, **kw):
    kw.setdefault("image_hw", HW)
    kw.setdefault("duration_s", 3.0)
    return sb.write_synthetic_bag(tmp_path / name, **kw)


def test_refuses_existing_output_and_help(tmp_path, capsys):
    (tmp_path / "d.zarr").mkdir()
    assert dataset_main(["whatever", "--out", str(tmp_path / "d.zarr")]) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        dataset_main(["--help"])
    assert e.value.code == 0
    assert "fog dataset data/bags/*/ --out data/go2.zarr" in capsys.readouterr().out


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or the file itself) with its bytes."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_overwrite_never_deletes_an_input_bag_or_what_is_not_a_store(tmp_path, capsys):
    folder = tmp_path / "bags"
    folder.mkdir()
    ep1 = _bag(folder, "ep1", duration_s=1.0).path
    (folder / "notes.txt").write_text("keep me")
    mcap = next(ep1.glob("*.mcap"))
    before = _tree(folder)

    def refused(*args) -> str:
        assert dataset_main([*map(str, args), "--image-size", "16"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert _tree(folder) == before  # nothing deleted, nothing written
        return err

    assert "holds the input bag" in refused(ep1, "--out", ep1, "--overwrite")
    assert "holds the input bag" in refused(ep1, "--out", folder, "--overwrite")
    assert "holds the input bag" in refused(mcap, "--out", mcap, "--overwrite")
    assert "lies inside the input bag" in refused(ep1, "--out", ep1 / "d.zarr")
    # The report folder <out>.report is checked the same way.
    ep1_report = folder / "ep1.report"
    assert not ep1_report.exists()
    assert "the report folder" in refused(ep1_report, "--out", folder / "ep1", "--overwrite")
    # A folder that is no store of ours is never replaced, even with --overwrite.
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    err = refused(ep1, "--out", other, "--overwrite")
    assert "is not a dataset store that fog dataset wrote" in err and (other / "thesis.tex").read_text() == "x"
    from fog_training.data.synthetic_store import make_synthetic_store

    make_synthetic_store(tmp_path / "synth.zarr", episodes=1, steps=4)  # a store, but another tool's
    assert "is not a dataset store" in refused(ep1, "--out", tmp_path / "synth.zarr", "--overwrite")
    assert (tmp_path / "synth.zarr" / "zarr.json").exists()

    # Our own store (and report) is replaced with --overwrite.
    out = tmp_path / "d.zarr"
    assert dataset_main([str(ep1), "--out", str(out), "--image-size", "16"]) == 0
    (out.parent / "d.zarr.report" / "report.md").write_text("# Dataset quality report: edited\n")
    assert dataset_main([str(ep1), "--out", str(out), "--image-size", "16"]) == 2  # exists, no --overwrite
    assert dataset_main([str(ep1), "--out", str(out), "--image-size", "16", "--overwrite"]) == 0
    assert EpisodeStore(out).meta["created_by"].startswith("fog dataset ")
    assert "edited" not in (out.parent / "d.zarr.report" / "report.md").read_text()
    capsys.readouterr()
    # ... but not when its report folder holds something else.
    (out.parent / "d.zarr.report" / "mine.txt").write_text("x")
    assert "is not a quality report" in refused(ep1, "--out", out, "--overwrite")
    assert (out.parent / "d.zarr.report" / "mine.txt").exists() and _tree(out)
    assert _tree(folder) == before


def test_out_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    from fog_training.data import bag_to_dataset

    def no_work(*a, **k):
        raise AssertionError("a bag was read before --out was checked")

    monkeypatch.setattr(bag_to_dataset, "convert_bag", no_work)
    (tmp_path / "file").write_text("x")
    bag = tmp_path / "missing_bag"  # never opened: --out is refused first
    for out, why in (
        (tmp_path / "file" / "d.zarr", "is a file, not a folder"),
        (tmp_path / "file", "already exists"),
    ):
        assert dataset_main([str(bag), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err and "Traceback" not in err, err
    assert dataset_main([str(bag), "--out", str(tmp_path / "d.zarr"), "--topic", "kamera=/x"]) == 2
    assert "--topic 'kamera=/x': expected ROLE=NAME" in capsys.readouterr().err
    assert not (tmp_path / "d.zarr").exists() and not (tmp_path / "d.zarr.report").exists()
    # A folder the OS refuses to write into (as a read-only mount does, even for root).
    import tempfile

    def read_only(*a, **k):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    assert dataset_main([str(bag), "--out", str(tmp_path / "new" / "d.zarr")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write --out {tmp_path / 'new' / 'd.zarr'}: {tmp_path} is not writable (Read-only" in err
    assert err.count("\n") == 1


# As root the permission bits do not stop a write, so this real-chmod case cannot fail there; the
# refusal itself is tested for every user above (the OS's PermissionError from a read-only mount).
@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions; the refusal is tested by "
                    "test_out_is_checked_before_any_work with the OS's read-only error")
def test_read_only_out_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert dataset_main(["whatever", "--out", str(ro / "d.zarr")]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_missing_bag_is_one_line(tmp_path, capsys):
    assert dataset_main([str(tmp_path / "nope"), "--out", str(tmp_path / "d.zarr")]) == 2
    err = capsys.readouterr().err
    assert f"bag {tmp_path / 'nope'}: does not exist" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_collect_folder_converts_its_episode_bags(tmp_path, capsys):
    folder = tmp_path / "bags"
    folder.mkdir()
    for name in ("episode_0000", "episode_0001", "between_0000"):
        _bag(folder, name, duration_s=1.0, seed=len(name))
    (folder / "logs").mkdir()
    (folder / "logs" / "recorder.log").write_text("recorder started\n")
    summary = {"episode_bags": ["episode_0000", "episode_0001"], "between_episode_bags": ["between_0000"]}
    (folder / "collect_summary.json").write_text(json.dumps(summary))

    assert dataset_main([str(folder), "--out", str(tmp_path / "a.zarr"), "--image-size", "16", "--no-report"]) == 0
    err = capsys.readouterr().err
    assert "a `fog collect` folder: its 2 episode bag(s); 1 between-episode bag(s) left out" in err
    meta = EpisodeStore(tmp_path / "a.zarr").meta
    assert [s["path"] for s in meta["source_bags"]] == [str(folder / "episode_0000"), str(folder / "episode_0001")]
    # DIR/* as a shell expands it: the summary and logs/ are skipped, not failed.
    argv = [str(p) for p in sorted(folder.iterdir())] + ["--out", str(tmp_path / "b.zarr"), "--no-report"]
    assert dataset_main(argv) == 0
    err = capsys.readouterr().err
    assert "FAILED" not in err and f"skipped {folder / 'logs'}" in err
    assert len(EpisodeStore(tmp_path / "b.zarr").meta["source_bags"]) == 3
