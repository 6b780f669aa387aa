"""softack: a context-aware interruption filter for LiveKit voice agents.

While the agent speaks or thinks, ``decide`` tells a backchannel ("yeah", "uh-huh": ignore, the
agent keeps talking) from an interruption ("no stop", "what do you mean": stop now). The LiveKit
wiring lives in ``softack.gate`` and is imported only when used.
"""

from .config import DEFAULT_INTERRUPT_KEYWORDS, DEFAULT_SOFT_ACKS, SoftAckConfig
from .context import AgentContext
from .decision import FILTERED_AGENT_STATES, Action, BackchannelFilter, Decision, Intent, Reason, decide
from .normalize import normalize
from .onnx_model import ModelLoadError, OnnxClassifier, default_model_path

__all__ = [
    "Action",
    "AgentContext",
    "BackchannelFilter",
    "DEFAULT_INTERRUPT_KEYWORDS",
    "DEFAULT_SOFT_ACKS",
    "Decision",
    "FILTERED_AGENT_STATES",
    "Intent",
    "ModelLoadError",
    "OnnxClassifier",
    "Reason",
    "SoftAckConfig",
    "decide",
    "default_model_path",
    "normalize",
]

__version__ = "0.1.0"
