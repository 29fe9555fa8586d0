"""What the wheel must carry, and a build of it from the tracked files alone.

Used by tests/test_packaging.py and by CI (``python -m tests.wheel_contents WHEEL``): every file git
tracks under the packages must be in the wheel (code, catalogues, templates, profiles, migrations,
emulator worlds, the minimal Railway schema), and each of those kinds must be there at all.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "playbooks", "sandbox")
PLACEHOLDERS = {".keep"}  # keep an empty folder in git; nothing reads them
KINDS = {
    "catalogues": "bot/i18n/locales/*/*.toml",
    "templates": "bot/i18n/templates/*/*.j2",
    "endpoint profiles": "bot/config/profiles/*.toml",
    "migrations env": "bot/store/migrations/env.py",
    "migration script template": "bot/store/migrations/script.py.mako",
    "migration versions": "bot/store/migrations/versions/*.py",
    "emulator worlds": "sandbox/emulators/worlds/*.json",
    "minimal Railway schema": "sandbox/emulators/railway_min.graphql",
}


def tracked_files(root: Path = ROOT) -> list[str]:
    """The packages' files as git has them (new files count once they are added)."""
    out = subprocess.run(["git", "ls-files", "--", *PACKAGES], cwd=root, check=True, capture_output=True,
                         text=True).stdout
    return [name for name in out.splitlines() if Path(name).name not in PLACEHOLDERS]


def problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the wheel's contents, one line each; empty when it carries everything."""
    names = set(zipfile.ZipFile(wheel).namelist())
    found = [f"missing from the wheel: {name}" for name in tracked_files(root) if name not in names]
    found += [f"no {kind} ({pattern}) in the wheel" for kind, pattern in KINDS.items()
              if not fnmatch.filter(names, pattern)]
    return found


def build_wheel(out_dir: Path, root: Path = ROOT) -> tuple[Path, str]:
    """Build the wheel from a copy of the tracked files (as a fresh clone has them), never in the work
    tree; returns the wheel and the build's output."""
    source = out_dir / "source"
    listed = subprocess.run(["git", "ls-files"], cwd=root, check=True, capture_output=True, text=True).stdout
    for name in listed.splitlines():
        if (root / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, source / name)
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out_dir / "dist"), str(source)],
                         capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    if run.returncode:
        raise RuntimeError(f"the wheel did not build:\n{output[-3000:]}")
    return next((out_dir / "dist").glob("chatops-*.whl")), output


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.wheel_contents WHEEL", file=sys.stderr)
        return 2
    wheel = Path(argv[0])
    found = problems(wheel)
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"{wheel.name} carries all {len(tracked_files())} files of {', '.join(PACKAGES)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
