"""Minigolf with two terrains of Section 7.2 (Figure 3, left).

``physics`` (one putt, whole arrays, noise as an input), ``model`` (the linear-Gaussian model),
``domain`` (Algorithm 1's adapter), ``env`` (gymnasium).
"""

from .domain import MinigolfDomain

__all__ = ["MinigolfDomain"]
