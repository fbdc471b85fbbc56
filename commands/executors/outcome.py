"""What an executor reports back: the cells that failed (with why) and those still running."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.config import ConfigError


@dataclass
class Outcome:
    failed: dict[str, str] = field(default_factory=dict)  # cell name: why, as the user reads it
    pending: list[str] = field(default_factory=list)  # cells that run on after this build (--no-wait)

    def report(self, planned: int) -> bool:
        """True when every planned cell is done; False when some run on; a failure is a ConfigError."""
        planned = max(planned, len(self.failed))  # a gather also waits for runs it did not plan
        reasons = set(self.failed.values())
        if len(self.failed) == planned and len(reasons) == 1:  # one cause, a setup error: said once
            raise ConfigError(reasons.pop())
        if self.failed:
            names = ", ".join(self.failed)
            raise ConfigError(
                f"{len(self.failed)} of the grid's {planned} runs failed ({names}); the others are kept"
            )
        return not self.pending
