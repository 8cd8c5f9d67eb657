"""Frozen value classes that cost nothing to create: the base of the small records
(config, certificate facts, probe results, decisions) that every command makes."""

from __future__ import annotations

import inspect
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, Self, dataclass_transform

_MISSING = object()


@dataclass_transform(frozen_default=True)
class Value:
    """What @dataclass(frozen=True) gives a class, without its cost at import.

    Python 3.11 compiles six generated methods for every frozen dataclass when the
    class is created: ~0.7 ms a class, and `status` created ~25 of them before it read
    a byte of config (the config model alone ~8 ms). Here the methods are written
    once and read the fields from the annotations; the behaviour is the dataclass's:
    construction by position or keyword with the class's defaults, TypeError for an
    unknown, repeated or missing field, == and hash over the fields in order (same
    class only), the same repr, FrozenInstanceError on assignment, and replace()
    for what `dataclasses.replace` did.

    Every annotation of a subclass is a field, in order; a default is a plain class
    attribute. Not for what needs more: ClassVar, field(), __post_init__, subclasses of
    subclasses (those stay dataclasses).
    """

    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # The class's own annotations, in order: its fields (click has imported inspect).
        cls._fields = tuple(inspect.get_annotations(cls))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = cls._fields
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__name__}.__init__() takes {len(names) + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(
                    f"{cls.__name__}.__init__() got an unexpected keyword argument {name!r}"
                )
            if name in values:
                raise TypeError(
                    f"{cls.__name__}.__init__() got multiple values for argument {name!r}"
                )
            values[name] = value
        for name in names:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = getattr(cls, name, _MISSING)
                if value is _MISSING:
                    raise TypeError(
                        f"{cls.__name__}.__init__() missing 1 required positional "
                        f"argument: {name!r}"
                    )
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, as `dataclasses.replace` makes it."""
        return type(self)(**{name: getattr(self, name) for name in self._fields} | changes)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Value) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
