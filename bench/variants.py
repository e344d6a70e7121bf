"""Variant names: each model's name in results (``forward``, ``bidirectional-sum``, ``backward-gru``), the list of
every variant in report order, and the spellings configs use (``bidirectional_sum``).

Derived from the enums of :mod:`bench.schema`, which stays the owner of every choice: a new merge or cell there is
a new variant here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig

from bench.schema import Cell, Direction, Merge, ModelConfig, enum_name


def variant_name(model: ModelConfig | DictConfig) -> str:
    """The variant's name in results: forward, backward, backward-unaligned or bidirectional-<merge>, followed by
    ``-<cell>`` for a cell other than the LSTM (``bidirectional-sum-gru``, ``forward-simple-rnn``)."""
    direction = Direction(model.direction)
    if direction is Direction.bidirectional:
        name = f"bidirectional-{enum_name(model.merge)}"
    elif direction is Direction.backward and not model.aligned:
        name = "backward-unaligned"
    else:
        name = direction.name
    cell = Cell(getattr(model, "cell", Cell.lstm))
    return name if cell is Cell.lstm else f"{name}-{CELL_SUFFIXES[cell]}"


# cell -> what variant names of its models end with; the LSTM's names carry no cell
CELL_SUFFIXES = {Cell.gru: "gru", Cell.simple_rnn: "simple-rnn"}


def cell_of(variant: str) -> Cell | None:
    """The cell of a variant name (settings labels allowed), or None for a name the schema does not know."""
    model = VARIANT_MODELS.get(base_variant(variant))
    return None if model is None else model.cell


def _model_choices() -> list[ModelConfig]:
    """One model per variant: per cell (LSTM first), directions in enum order, backward aligned then not,
    bidirectional per merge."""
    choices = []
    for cell in Cell:
        for direction in Direction:
            if direction is Direction.bidirectional:
                choices += [ModelConfig(direction=direction, merge=merge, cell=cell) for merge in Merge]
            elif direction is Direction.backward:
                choices += [ModelConfig(direction=direction, aligned=aligned, cell=cell) for aligned in (True, False)]
            else:
                choices.append(ModelConfig(direction=direction, cell=cell))
    return choices


# variant name -> its model (direction, merge, aligned, cell; units left at the default), in the order reports list
# them
VARIANT_MODELS: dict[str, ModelConfig] = {variant_name(model): model for model in _model_choices()}
# forward, backward, backward-unaligned, bidirectional-sum, -mul, -concat, -ave; then the same with -gru, then with
# -simple-rnn
VARIANTS: tuple[str, ...] = tuple(VARIANT_MODELS)
# config name -> variant name: conf/model/<config name>.yaml selects the variant, e.g. bidirectional_sum ->
# bidirectional-sum. conf/model/bidirectional.yaml is not one of them: it is the Bidirectional model whose
# merge (concat unless model.merge says otherwise) picks the variant. Other cells are these configs with
# model.cell=gru or model.cell=simple_rnn.
CONFIG_VARIANTS: dict[str, str] = {
    variant.replace("-", "_"): variant for variant, model in VARIANT_MODELS.items() if model.cell is Cell.lstm
}
# every variant's name spelled as configs spell names: bidirectional_sum_gru, forward_simple_rnn
_SPELLINGS: dict[str, str] = {variant.replace("-", "_"): variant for variant in VARIANTS}


def as_variant(name: str) -> str:
    """A model named by its variant name or its config spelling, as its variant name; other names unchanged.

    ``as_variant("bidirectional_sum") == as_variant("bidirectional-sum") == "bidirectional-sum"``, and
    ``as_variant("bidirectional_sum_gru") == "bidirectional-sum-gru"``.
    """
    return _SPELLINGS.get(name, name)


def lstm_variant(variant: str) -> str:
    """The LSTM variant of a variant's direction and merge: ``bidirectional-sum-gru`` -> ``bidirectional-sum``."""
    cell = Cell(VARIANT_MODELS[variant].cell)
    return variant if cell is Cell.lstm else variant.removesuffix(f"-{CELL_SUFFIXES[cell]}")


def variant_overrides(variant: str) -> list[str]:
    """The config overrides that select a variant: its LSTM's config, and model.cell for another cell.

    ``variant_overrides("bidirectional-sum-gru") == ["model=bidirectional_sum", "model.cell=gru"]``.
    """
    cell = Cell(VARIANT_MODELS[variant].cell)
    config = f"model={lstm_variant(variant).replace('-', '_')}"
    return [config] if cell is Cell.lstm else [config, f"model.cell={cell.name}"]


def labelled_variant(variant: str, settings: dict[str, Any]) -> str:
    """The name of runs of one variant with other settings: ``forward [learning_rate=0.01]``."""
    return f"{variant} [{', '.join(f'{name}={value}' for name, value in settings.items())}]"


def base_variant(name: str) -> str:
    """The variant of a name that may carry settings (:func:`labelled_variant`): ``forward [...]`` -> forward."""
    return name.split(" [", 1)[0]


def variant_order(variants: Iterable[str]) -> list[str]:
    """The names present, in :data:`VARIANTS` order of their variant (settings labels after it), then the others.

    Names of one variant, and the unknown names, are in alphabetical order.
    """

    def key(name: str) -> tuple[int, str]:
        variant = base_variant(name)
        return (VARIANTS.index(variant) if variant in VARIANTS else len(VARIANTS), name)

    return sorted(set(variants), key=key)
