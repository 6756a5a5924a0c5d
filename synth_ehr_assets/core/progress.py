"""The one progress callback type every long step accepts: `progress(done, total, **figures)`.

`figures` are optional running numbers worth showing beside the bar (e.g. a GAN's losses); a caller that has
none passes just `(done, total)`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int, /, **figures: float) -> None: ...
