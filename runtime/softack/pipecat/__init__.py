"""softack for Pipecat: the same decision core as the LiveKit gate, as a user-turn start strategy.

Install with the extra (``pip install 'softack[pipecat]'``); LiveKit users never import this
package. Adding it to a Pipecat bot changes two lines::

    from softack.pipecat import SoftAckUserTurnStrategies

    user_params = LLMUserAggregatorParams(user_turn_strategies=SoftAckUserTurnStrategies())
    # was: LLMUserAggregatorParams()  or  UserTurnStrategies(stop=[...]) -> SoftAckUserTurnStrategies(stop=[...])

``SoftAckUserTurnStrategies`` is Pipecat's ``UserTurnStrategies`` with
``SoftAckUserTurnStartStrategy`` ahead of the start strategies (Pipecat's defaults when none are
given). Backchannels become ``UserBackchannelFrame``s (``SoftAckBackchannelFrame``, with the
decision; the aggregator's ``on_user_backchannel`` event). Decisions read the bot's line as the
user had heard it (``BotLineObserver``, which the strategy adds to the pipeline itself). The
strategy reports ``on_decision``, ``on_interruption`` and ``on_backchannel``, each with the intent
and the context used.
"""

from .bot_line import BotLineObserver
from .softack_user_turn_start_strategy import (
    SoftAckBackchannelEvent,
    SoftAckBackchannelFrame,
    SoftAckDecisionEvent,
    SoftAckInterruptionEvent,
    SoftAckUserTurnStartStrategy,
)
from .softack_user_turn_strategies import SoftAckUserTurnStrategies

__all__ = [
    "BotLineObserver",
    "SoftAckBackchannelEvent",
    "SoftAckBackchannelFrame",
    "SoftAckDecisionEvent",
    "SoftAckInterruptionEvent",
    "SoftAckUserTurnStartStrategy",
    "SoftAckUserTurnStrategies",
]
