"""The two-areas gridworld of Section 7.1 (Figures 1, 2 and 4).

``dynamics`` (the layouts and their finite MDPs, numpy only), ``model`` (the state-blind
action-effect models), ``censored`` (the walls-aware model's MLE), ``domain`` (Algorithm 1's
adapter), ``env`` (gymnasium), ``figure1`` (delta, eta and the lower-area mass of claim 1),
``gradient_bias`` (the exact bias experiment of Figure 4).
"""

from .domain import GridworldDomain

__all__ = ["GridworldDomain"]
