"""The simulation side stays light: importing scribblesim never imports torch."""

import subprocess
import sys


def test_scribblesim_imports_without_torch() -> None:
    code = (
        "import sys, scribblesim, scribblesim.cli.main, scribblesim.sets.build, scribblesim.analysis.metrics,"
        " scribblesim.analysis.summary, scribblesim.analysis.objects, scribblesim.analysis.figures,"
        " scribblesim.analysis.report, scribblesim.analysis.preview;"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_embedded_sample_is_package_data() -> None:
    from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root

    root = coco_sample_root()
    assert (root / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").is_file()
    assert len(list((root / COCO_SAMPLE_SPLIT).glob("*.jpg"))) == 33
    assert (root / "ATTRIBUTION.md").is_file()
