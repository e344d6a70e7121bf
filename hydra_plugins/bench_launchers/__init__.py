"""Hydra launchers of bench. Hydra finds plugins only under the hydra_plugins namespace package."""
