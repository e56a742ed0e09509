"""``make bench BENCH_ARGS=--ocr`` (or ``python tests/bench_ocr.py``): text recognition of scans.

Ten stamped 推荐表 scans made as the tests make them (rendered from Word by LibreOffice at
200 dpi, red seals on the opinions, turned −5° to +5°, noised, JPEG-compressed), read one after
another by one process as a parse worker reads them: the models' load, the first page (which
also pays onnxruntime's first run), seconds per page after it (median and worst), the process's
peak memory, and how many
gave the nominee's 姓名, 性别 and 出生年月 exactly and found both seals. When Debian's tesseract
(``tesseract-ocr-chi-sim``) is installed, the same pages through it for comparison: how many of
its page texts contain all three values anywhere (a looser test than the one RapidOCR passes).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ONE = """
import json, resource, sys, time
t = time.perf_counter()
from parsers.ocr import _engine
from parsers.scans import ScanBudget, read_scan
_engine()  # the models load once per process
loaded = time.perf_counter() - t
out = []
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    t = time.perf_counter()
    result = read_scan(data, "jpeg", ScanBudget())
    seconds = time.perf_counter() - t
    rec = result.records[0] if result.records else None
    out.append({
        "seconds": seconds,
        "read": [rec.name, rec.fields.get("sex"), rec.fields.get("birth")] if rec else None,
        "seals": [o.seal for o in rec.opinions] if rec else [],
    })
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"load_s": loaded, "pages": out, "peak_mib": peak}))
"""


def scans(folder: Path) -> list[tuple[Path, tuple[str, str, str]]]:
    from intake.dev.samples import individual_form
    from tests.makers import opinion_cells, red_seal, rendered_pages, scanned
    from tests.parsers.test_scans import ANGLES, _people

    out = []
    for i, (person, angle) in enumerate(zip(_people(), ANGLES, strict=True)):
        (page,) = rendered_pages(individual_form([person], "贵州省"))[:1]
        for centre in opinion_cells(page):
            page = red_seal(page, centre)
        path = folder / f"scan{i}.jpg"
        path.write_bytes(scanned(page, angle, i))
        out.append((path, (person.name, person.sex, person.birth)))
    return out


def figures() -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="intake-bench-ocr-"))
    made = scans(folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # One process reads every page, as a parse worker does: the models load once, and the first
    # page also pays onnxruntime's first run; the pages after it are the steady state.
    done = subprocess.run(
        [sys.executable, "-c", ONE, *(str(p) for p, _ in made)], capture_output=True, text=True, env=env, check=True
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    runs = got["pages"]
    for run, (_, truth) in zip(runs, made, strict=True):
        run["exact"] = run["read"] == list(truth)
        run["sealed"] = run["seals"] == ["found", "found"]
    later = [r["seconds"] for r in runs[1:]]
    out: dict[str, object] = {
        "pages": len(runs),
        "load_s": got["load_s"],
        "first_s": runs[0]["seconds"],
        "median_s": median(later),
        "worst_s": max(later),
        "peak_mib": got["peak_mib"],
        "exact": sum(r["exact"] for r in runs),
        "sealed": sum(r["sealed"] for r in runs),
    }
    if shutil.which("tesseract"):
        hits = 0
        for path, truth in made:
            text = subprocess.run(
                ["tesseract", str(path), "-", "-l", "chi_sim", "--psm", "6"], capture_output=True, text=True
            ).stdout.replace(" ", "")
            hits += all(value in text for value in truth)
        out["tesseract_all_three"] = hits
    return out


def record(f: dict[str, object]) -> None:
    tesseract = (
        f"- tesseract 4 (chi_sim, the same pages): all three values anywhere in its text on "
        f"{f['tesseract_all_three']} of {f['pages']}\n"
        if "tesseract_all_three" in f
        else "- tesseract: not installed on this machine, not compared\n"
    )
    with (ROOT / "BENCHMARKS.md").open("a", encoding="utf-8") as fh:
        fh.write(
            f"\n### Text recognition ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
            f"Python {platform.python_version()})\n\n"
            f"- {f['pages']} stamped A4 scans at 200 dpi, turned −5° to +5°, noised, JPEG: RapidOCR read 姓名, 性别 "
            f"and 出生年月 exactly on **{f['exact']} of {f['pages']}**, found both seals on **{f['sealed']} of "
            f"{f['pages']}**\n"
            f"- one process reads them all, as a parse worker does: the models load in {f['load_s']:.1f} s; the "
            f"first page, which also pays onnxruntime's first run, {f['first_s']:.1f} s; the nine after it: median "
            f"**{f['median_s']:.1f} s**, worst {f['worst_s']:.1f} s per page (target ≤ 3 s); peak memory of the "
            f"process **{f['peak_mib']:.0f} MiB** (target ≤ 1 GiB)\n" + tesseract
        )


def main() -> int:
    f = figures()
    print(json.dumps(f, ensure_ascii=False))
    if "--no-record" not in sys.argv:
        record(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
