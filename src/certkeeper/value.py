"""Value and record classes that cost nothing to create: the base of the small records
(config, certificate facts, probe results, decisions, state) that every command makes.

Python 3.11 compiles the generated methods of every @dataclass when the class is
created: ~0.7 ms a frozen class, ~0.3 ms a mutable one, and `status` needs ~35 of them
before it reads a byte of config (the config model alone ~8 ms). Here the methods are
written once and read the fields from the annotations; the behaviour is the dataclass's:
construction by position or keyword with the class's defaults (a plain value, or
`field(default_factory=...)`), TypeError for an unknown, repeated or missing field, ==
over the fields in order (same class only), the same repr, and replace() for what
`dataclasses.replace` did. Value is frozen (hash over the fields, FrozenInstanceError on
assignment); Record is not (unhashable, like a mutable dataclass).

Every annotation of a subclass is a field, in order, after the fields of the classes it
derives from (as a dataclass's subclass extends its parent's). field(repr=False) keeps a
field out of the repr. These are certkeeper's one record type: no module uses @dataclass,
and tests/unit/test_value.py holds the contract against dataclasses themselves. Not for
what needs more: ClassVar fields, other field() options, __post_init__.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, Field, FrozenInstanceError, field
from typing import Any, ClassVar, Self, dataclass_transform

# `field` is the one field specifier (default, default_factory, repr): imported from here.
__all__ = ["Record", "Value", "field"]

_MISSING = object()


class _Fields:
    _fields: ClassVar[tuple[str, ...]] = ()
    _shown: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # The parent's fields, then the class's own annotations in order (click has
        # imported inspect); a redeclared field keeps its place, as in a dataclass.
        inherited = cls._fields
        own = tuple(name for name in inspect.get_annotations(cls) if name not in inherited)
        cls._fields = inherited + own
        cls._shown = tuple(
            name
            for name in cls._fields
            if not (isinstance(spec := getattr(cls, name, None), Field) and not spec.repr)
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = cls._fields
        if len(args) > len(names):
            required = sum(1 for name in names if getattr(cls, name, _MISSING) is _MISSING)
            takes = f"{len(names) + 1}" if required == len(names) else (
                f"from {required + 1} to {len(names) + 1}"
            )  # fmt: skip
            raise TypeError(
                f"{cls.__name__}.__init__() takes {takes} positional arguments "
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
                if isinstance(value, Field):
                    if value.default_factory is not MISSING:
                        value = value.default_factory()
                    elif value.default is not MISSING:
                        value = value.default
                    else:
                        value = _MISSING
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
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Fields) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Value(_Fields):
    """What @dataclass(frozen=True) gives a class (the module says how and why)."""

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


@dataclass_transform(field_specifiers=(field,))
class Record(_Fields):
    """What @dataclass gives a class (the module says how and why)."""

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as a dataclass
