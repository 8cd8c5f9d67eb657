"""certkeeper's one record type behaves as the dataclass it stands for.

Each case builds the same class twice, once with @dataclass and once on Value/Record, and
asserts the two agree on what code and people see: construction, defaults, the errors of
a wrong call, ==, hash, repr, replace, immutability and subclassing.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from certkeeper.value import Record, Value, field

SRC = Path(__file__).parents[2] / "src" / "certkeeper"


@dataclasses.dataclass(frozen=True)
class DPoint:
    x: int
    y: int = 2
    tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)
    secret: str = dataclasses.field(default="s", repr=False)


class VPoint(Value):
    x: int
    y: int = 2
    tags: tuple[str, ...] = field(default_factory=tuple)
    secret: str = field(default="s", repr=False)


@dataclasses.dataclass
class DBag:
    name: str
    items: list[int] = dataclasses.field(default_factory=list)


class VBag(Record):
    name: str
    items: list[int] = field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class DBase:
    cert_name: str
    domains: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DChild(DBase):
    serial: int = 0


class VBase(Value):
    cert_name: str
    domains: tuple[str, ...] = ()


class VChild(VBase):
    serial: int = 0


def same_words(d: Any, v: Any) -> None:
    """repr differs only in the class name: the fields, order and values are the same."""
    assert repr(v).split("(", 1)[1] == repr(d).split("(", 1)[1]


def error_of(cls: type, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TypeError) as caught:
        cls(*args, **kwargs)
    return str(caught.value).replace(cls.__name__, "C")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 5), {}), ((), {"x": 1, "tags": ("a",)}), ((1, 2, ("t",), "k"), {})],
)
def test_construction_defaults_and_repr_agree(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    d, v = DPoint(*args, **kwargs), VPoint(*args, **kwargs)
    assert (v.x, v.y, v.tags, v.secret) == (d.x, d.y, d.tags, d.secret)
    same_words(d, v)
    assert "secret" not in repr(v)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, 2, (), "s", 9), {}), ((1,), {"x": 2}), ((1,), {"nope": 3})],
)
def test_a_wrong_call_raises_the_same_type_error(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    wanted = error_of(DPoint, *args, **kwargs)
    got = error_of(VPoint, *args, **kwargs)
    # dataclass names the class by its qualified __init__; the words after it agree.
    assert got.split(")", 1)[1] == wanted.split(")", 1)[1]


def test_equality_and_hash_agree() -> None:
    assert VPoint(1) == VPoint(1, 2) and VPoint(1) != VPoint(2)
    assert hash(VPoint(1, tags=("a",))) == hash(VPoint(1, tags=("a",)))
    assert len({VPoint(1), VPoint(1), VPoint(2)}) == len({DPoint(1), DPoint(1), DPoint(2)}) == 2
    # Another class with the same fields is not equal, as with dataclasses.
    assert VBase("a") != VChild("a") and DBase("a") != DChild("a")
    assert VPoint(1) != DPoint(1)


def test_a_value_is_immutable_and_replace_makes_a_copy() -> None:
    v = VPoint(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del v.x  # type: ignore[misc]
    changed = v.replace(y=7)
    assert (changed.x, changed.y, v.y) == (1, 7, 2)
    same_words(dataclasses.replace(DPoint(1), y=7), changed)
    with pytest.raises(TypeError):
        v.replace(nope=1)


def test_a_record_is_mutable_unhashable_and_has_fresh_defaults() -> None:
    a, b = VBag("a"), VBag("b")
    a.items.append(1)
    assert b.items == [] and DBag("b").items == []
    a.name = "renamed"
    assert a == VBag("renamed", [1])
    same_words(DBag("renamed", [1]), a)
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        hash(DBag("x"))


def test_a_subclass_extends_its_parents_fields_in_order() -> None:
    d, v = DChild("shop", ("a",), 5), VChild("shop", ("a",), 5)
    same_words(d, v)
    assert [f.name for f in dataclasses.fields(d)] == list(VChild._fields)
    assert VChild("shop").serial == DChild("shop").serial == 0
    assert isinstance(v, VBase)


def test_a_value_survives_pickle_and_copy() -> None:
    v = VChild("shop", ("a",), 5)
    assert pickle.loads(pickle.dumps(v)) == v


def test_no_module_uses_dataclass_any_more() -> None:
    """One record type: a @dataclass in src/ is the second way this contract removed."""
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "@dataclass" in path.read_text() and path.name != "value.py"
    ]
    assert offenders == []
