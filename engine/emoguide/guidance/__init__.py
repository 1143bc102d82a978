"""Creative guidance: from measured emotions to concrete, explained editing suggestions.

``guide(analysis, target="rising")`` returns a :class:`Guidance`; every rule
lives in ``guidance/rules/`` with its source in its docstring and its
thresholds in :class:`GuidanceConfig`.
"""

from emoguide.guidance.config import GuidanceConfig
from emoguide.guidance.engine import guide
from emoguide.guidance.model import Guidance, Suggestion
from emoguide.guidance.targets import TargetArc

__all__ = ["guide", "Guidance", "Suggestion", "TargetArc", "GuidanceConfig"]
