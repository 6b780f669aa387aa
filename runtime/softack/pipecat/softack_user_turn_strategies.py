"""Pipecat's ``UserTurnStrategies`` with softack ahead of the start strategies."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.turns.user_turn_strategies import UserTurnStrategies, default_user_turn_start_strategies

from .softack_user_turn_start_strategy import SoftAckUserTurnStartStrategy


@dataclass
class SoftAckUserTurnStrategies(UserTurnStrategies):
    """User turn strategies whose first start strategy is softack.

    ``start`` (Pipecat's VAD and transcription strategies when omitted) and ``stop`` (Pipecat's
    default turn analyzer when omitted) mean what they mean in ``UserTurnStrategies``;
    ``SoftAckUserTurnStartStrategy`` is put in front of ``start`` so it sees voice activity and
    transcripts first and keeps them from the others while the bot talks.

    Parameters:
        softack: the strategy to put first; ``SoftAckUserTurnStartStrategy()`` when None.
    """

    softack: SoftAckUserTurnStartStrategy | None = None

    def __post_init__(self):
        if self.softack is None:
            self.softack = SoftAckUserTurnStartStrategy()
        others = [s for s in (self.start or default_user_turn_start_strategies()) if s is not self.softack]
        self.start = [self.softack, *others]
        super().__post_init__()
