"""The progress line of long commands (imports, indexing, translation of the catalog)."""

import sys
import time


class Progress:
    """A one-line progress counter on a terminal; silent otherwise (logs, CI)."""

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() and total > 0
        self.last = 0.0

    def update(self, done: int):
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.2 or done >= self.total):
            self.last = now
            width = 30
            filled = int(width * done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
            if done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
