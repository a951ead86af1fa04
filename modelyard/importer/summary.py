"""What an import copied and what it skipped, and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Summary:
    """Counts of copied objects by kind, and of skipped ones by kind and reason."""

    copied: Counter[str] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    stopped_early: bool = False

    def copy(self, kind: str, n: int = 1) -> None:
        self.copied[kind] += n

    def skip(self, kind: str, reason: str) -> None:
        self.skipped[(kind, reason)] += 1

    def lines(self) -> list[str]:
        out = ["Copied:"] + [f"  {n} {kind}" for kind, n in sorted(self.copied.items())]
        if not self.copied:
            out.append("  nothing new")
        if self.skipped:
            out.append("Skipped:")
            out += [f"  {n} {kind}: {reason}" for (kind, reason), n in sorted(self.skipped.items())]
        if self.stopped_early:
            out.append("Stopped at the --max-runs limit: run the same command again to continue.")
        return out
