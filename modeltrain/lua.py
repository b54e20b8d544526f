"""Lua scripts that name their KEYS and ARGV: the one way this service runs a script in Redis
(the job store's, the upload staging's)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Any


@dataclass(frozen=True)
class LuaScript:
    """One script with its KEYS and ARGV by name: the Lua source says ``$k_<name>`` and
    ``$a_<name>`` (filled in with positions from the names here), and the caller passes them by
    name (``bind``), so that Python and Lua cannot disagree on a position. With ``pairs``,
    field/value pairs follow the named arguments (``$a_pairs`` is where they start)."""

    keys: tuple[str, ...]
    args: tuple[str, ...]
    source: str
    pairs: bool = False
    words: Mapping[str, str] = field(default_factory=dict)  # more $NAMEs the source uses

    @property
    def lua(self) -> str:
        words = {
            **self.words,
            **{f"k_{name}": f"KEYS[{i}]" for i, name in enumerate(self.keys, start=1)},
            **{f"a_{name}": f"ARGV[{i}]" for i, name in enumerate(self.args, start=1)},
            "a_pairs": str(len(self.args) + 1),
        }
        return Template(self.source).substitute(words)  # a misspelt $NAME fails here

    def bind(
        self, keys: Mapping[str, str], args: Mapping[str, Any], pairs: Iterable[Any] = ()
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV in the script's order: ``keys`` may offer more than it uses, ``args``
        must be exactly its arguments."""
        if set(args) != set(self.args):
            raise TypeError(f"the script takes {self.args}, not {tuple(args)}")
        if not self.pairs and pairs:
            raise TypeError("the script takes no field/value pairs")
        return [keys[name] for name in self.keys], [args[name] for name in self.args] + list(pairs)

    def register(self, client: Any) -> Callable[..., Any]:
        """The script loaded on ``client`` (sync or asyncio redis), called as
        ``run(keys, pairs=(), **args)``."""
        script = client.register_script(self.lua)

        def run(keys: Mapping[str, str], pairs: Iterable[Any] = (), **args: Any) -> Any:
            bound_keys, bound_args = self.bind(keys, args, pairs)
            return script(keys=bound_keys, args=bound_args)

        return run
