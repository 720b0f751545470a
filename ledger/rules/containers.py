"""Rules of ``pack`` and ``unpack``: where a unit sits among containers (SSCCs).

A unit's record holds the containers it is in, outermost first (``containers``; its
first item is ``container``). Packing and unpacking are unit events, one entry per
unit on that unit's own chain (docs/FORMAT.md, "Containers"): a carton of 5 units
packed onto a pallet is 5 ``pack`` entries, each naming the pallet and, as ``inner``,
the carton. So a container exists while something is in it, and what is in it is
exactly the units whose chains say so.

ledger.rules.custody checks the custody part first (the signer is authorized for the
unit, holds it, and no transfer is open); this module checks the nesting:

- ``pack`` without ``inner``: the unit is loose (a unit is in at most one container);
- ``pack`` with ``inner``: ``inner`` is the unit's outermost container (a container is
  in at most one container) and differs from ``container``;
- ``pack``: ``container`` is none of the containers the unit is already in (no cycle:
  a pallet never goes into a carton on it, nor into itself);
- ``unpack``: ``container`` is the unit's outermost container.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from ledger.events import Pack, Unpack
from ledger.rules.errors import AlreadyPackedError, ContainerCycleError, NotInsideError
from ledger.rules.state import UnitRecord, with_changes


def pack(event: Pack, unit: UnitRecord) -> UnitRecord:
    """Return ``unit`` with ``event.container`` as its new outermost container.

    Raises:
        ContainerCycleError: the container is ``inner`` or already holds the unit.
        AlreadyPackedError: a loose pack of a unit that is in a container, or ``inner``
            is itself inside another container.
        NotInsideError: ``inner`` is not a container the unit is in.
    """
    if event.container == event.inner or event.container in unit.containers:
        raise ContainerCycleError(
            f"container {event.container} would be packed into itself", field="container"
        )
    if event.inner is None:
        if unit.container is not None:
            raise AlreadyPackedError(
                f"the unit is already in container {unit.container}: unpack it first",
                field="unit",
            )
    elif unit.container != event.inner:
        if event.inner in unit.containers:
            raise AlreadyPackedError(
                f"container {event.inner} is already in container {unit.container}: "
                "unpack that first",
                field="inner",
            )
        raise NotInsideError(f"the unit is not in container {event.inner}", field="inner")
    return _placed(unit, (event.container, *unit.containers))


def unpack(event: Unpack, unit: UnitRecord) -> UnitRecord:
    """Return ``unit`` taken out of its outermost container ``event.container``.

    Raises:
        NotInsideError: ``event.container`` is not the unit's outermost container.
    """
    if unit.container != event.container:
        where = f"it is in {unit.container}" if unit.container else "it is in no container"
        raise NotInsideError(
            f"the unit is not directly in container {event.container}: {where}",
            field="container",
        )
    return _placed(unit, unit.containers[1:])


def _placed(unit: UnitRecord, containers: tuple[str, ...]) -> UnitRecord:
    return with_changes(
        unit, containers=containers, container=containers[0] if containers else None
    )
