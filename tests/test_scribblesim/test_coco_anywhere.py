"""``build coco --annotations FILE --images DIR``: a COCO-format file anywhere builds as a root's split does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from scribblesim.cli.main import main
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root

IDS = [30, 72, 73, 74]


def sample_file(path: Path) -> Path:
    """The embedded sample's annotations of ``IDS``, written to ``path``, its images left where they are."""
    source = coco_sample_root() / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json"
    data = json.loads(source.read_text())
    data["images"] = [i for i in data["images"] if i["id"] in IDS]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in IDS]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def run(*args) -> object:
    return CliRunner().invoke(
        main, ["build", "coco", *map(str, args), "--seeds", "1", "2", "--jobs", "1", "--no-progress"]
    )


def files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "meta.json"
    }


def test_a_file_anywhere_builds_byte_identical_to_the_root_layout(tmp_path: Path) -> None:
    root = tmp_path / "root"
    sample_file(root / "annotations" / "instances_val.json")
    (root / "val").symlink_to(coco_sample_root() / COCO_SAMPLE_SPLIT)
    exported = sample_file(tmp_path / "cvat-export" / "instances_val.json")
    images = tmp_path / "somewhere" / "pictures"
    shutil.copytree(coco_sample_root() / COCO_SAMPLE_SPLIT, images)
    by_root = run("--root", root, "--split", "val", "--out", tmp_path / "a")
    by_file = run("--annotations", exported, "--images", images, "--out", tmp_path / "b")
    assert by_root.exit_code == by_file.exit_code == 0, by_root.output + by_file.output
    built = files(tmp_path / "a")
    assert built == files(tmp_path / "b") and any(name.startswith("coco_val_scribble_r2/") for name in built)
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    assert meta["source"] == {
        "annotations": "../cvat-export/instances_val.json",
        "images": "../somewhere/pictures",
        "split": "val",
    }
    # stats re-reads the true instances from the recorded file, as from a recorded root
    stats = CliRunner().invoke(main, ["stats", str(tmp_path / "b"), "--seed", "1", "--out", str(tmp_path / "stats")])
    assert stats.exit_code == 0, stats.output
    assert json.loads((tmp_path / "stats" / "summary.json").read_text())["objects_from"] == "dataset"


def test_the_split_is_the_files_name_or_given(tmp_path: Path) -> None:
    exported = sample_file(tmp_path / "export.json")
    images = coco_sample_root() / COCO_SAMPLE_SPLIT
    assert run("--annotations", exported, "--images", images, "--out", tmp_path / "a").exit_code == 0
    assert (tmp_path / "a" / "coco_export_scribble_r1").is_dir()
    assert (
        run("--annotations", exported, "--images", images, "--split", "val2017", "--out", tmp_path / "b").exit_code == 0
    )
    assert (tmp_path / "b" / "coco2017_val_scribble_r1").is_dir()


def test_wrong_combinations_are_one_line(tmp_path: Path) -> None:
    exported = sample_file(tmp_path / "export.json")
    images = coco_sample_root() / COCO_SAMPLE_SPLIT
    cases = [
        (["--root", tmp_path, "--annotations", exported, "--images", images], "--root and --annotations"),
        (["--annotations", exported], "--annotations and --images go together"),
        (["--images", images], "--annotations and --images go together"),
        (["--annotations", tmp_path / "missing.json", "--images", images], "missing.json"),
        (["--annotations", exported, "--images", tmp_path / "none"], "none: image folder not found"),
    ]
    for args, said in cases:
        result = run(*args, "--out", tmp_path / "out")
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and said in lines[0], (args, result.output)
