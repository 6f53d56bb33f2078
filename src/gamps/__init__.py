"""GAMPS."""
