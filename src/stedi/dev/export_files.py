"""The export files `stedi generate` (stedi.dev.generate) writes: named as the real ones,
`<source>-<epoch ms>.json`, each of at most a given number of JSON lines (`ExportWriter`)."""

from __future__ import annotations

from pathlib import Path

# The real export files are named <source>-<epoch ms>.json; ours count up from these.
FILE_EPOCH_MS = {
    "customer": 1691348231425,
    "accelerometer": 1691348231445,
    "step_trainer": 1691348232038,
}
FILE_STEP_MS = 50


class ExportWriter:
    """Lines into `<folder>/<source>-<ms>.json` files of at most `lines_per_file` lines each."""

    def __init__(self, folder: Path, source: str, lines_per_file: int):
        self.folder, self.source, self.cap = folder, source, lines_per_file
        self.files = 0
        self.lines = 0
        self._handle = None
        self._in_file = 0
        folder.mkdir(parents=True)

    def write(self, lines: list[str]) -> None:
        start = 0
        while start < len(lines):
            if self._handle is None or self._in_file == self.cap:
                self._next_file()
            take = min(self.cap - self._in_file, len(lines) - start)
            self._handle.write("\n".join(lines[start : start + take]) + "\n")
            self._in_file += take
            self.lines += take
            start += take

    def _next_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
        name = f"{self.source}-{FILE_EPOCH_MS[self.source] + self.files * FILE_STEP_MS}.json"
        # Open across many writes, closed by the next file or close(): no `with` fits.
        self._handle = open(self.folder / name, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self.files += 1
        self._in_file = 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
