"""The 3-link Swimmer of Section 7.2 (Figure 3, right), on MuJoCo's Swimmer-v5.

``dynamics`` (the known reward, the features, the gymnasium env), ``model`` (the MLP-Gaussian
model, torch), ``rollouts`` (the fused Monte Carlo Q of Eq. 4), ``domain`` (Algorithm 1's
adapter). torch is imported only when a model is made.
"""

from .domain import SwimmerDomain

__all__ = ["SwimmerDomain"]
