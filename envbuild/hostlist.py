"""Host sets written the way Slurm writes them (``node[0000-0127,0140],login1``), and read back.

A name is a prefix and a trailing number; names of one prefix and one width of zero padding share brackets,
with runs of consecutive numbers as ranges.  A number without leading zeros joins the zero-padded set of its
width when there is one (``node[08-10]``), else the unpadded one (``node[8-10]``).  ``expand`` reads what
``compress`` writes (and Slurm's own lists of that form), so ``expand(compress(names))`` gives the names back.
"""

from __future__ import annotations

from collections.abc import Iterable


def _split(name: str) -> tuple[str, str]:
    """(prefix, trailing digits) of NAME; the digits are "" when it ends in none."""
    end = len(name)
    while end > 0 and name[end - 1].isdigit():
        end -= 1
    return name[:end], name[end:]


def _padded(digits: str) -> bool:
    return len(digits) > 1 and digits.startswith("0")


def compress(names: Iterable[str]) -> str:
    """NAMES (each once, in any order) as one host list: ``node[0000-0127,0140],gpu[1-4],login``."""
    unique = sorted(set(names))
    widths = {(prefix, len(digits)) for prefix, digits in map(_split, unique) if _padded(digits)}
    groups: dict[tuple[str, int], list[int]] = {}
    plain: list[str] = []
    for name in unique:
        prefix, digits = _split(name)
        if not digits or "[" in name or "]" in name or "," in name:
            plain.append(name)  # nothing to range over, or a name a list could not read back
            continue
        width = len(digits) if (_padded(digits) or (prefix, len(digits)) in widths) else 0
        groups.setdefault((prefix, width), []).append(int(digits))
    parts = [(name, name) for name in plain]
    for (prefix, width), numbers in groups.items():
        numbers.sort()
        runs: list[list[int]] = []
        for number in numbers:
            if runs and number == runs[-1][1] + 1:
                runs[-1][1] = number
            else:
                runs.append([number, number])
        text = [f"{a:0{width}d}" if a == b else f"{a:0{width}d}-{b:0{width}d}" for a, b in runs]
        single = len(runs) == 1 and runs[0][0] == runs[0][1]
        parts.append((f"{prefix}{numbers[0]:0{width}d}", f"{prefix}{text[0]}" if single else
                      f"{prefix}[{','.join(text)}]"))
    return ",".join(text for _, text in sorted(parts))


def count(text: str) -> int:
    """How many hosts the list TEXT names."""
    return len(expand(text))


def expand(text: str) -> list[str]:
    """The names a host list names, in its order: ``node[01-03,07],login`` -> node01 node02 node03 node07 login.
    A malformed list is a ValueError that says where."""
    out: list[str] = []
    for item in _items(text):
        if "[" not in item:
            if "]" in item or not item:
                raise ValueError(f"{text!r}: {item!r} is not a host name")
            out.append(item)
            continue
        prefix, _, rest = item.partition("[")
        inside, close, suffix = rest.partition("]")
        if not close or "[" in inside or "]" in suffix or "[" in suffix:
            raise ValueError(f"{text!r}: {item!r} has unbalanced brackets")
        for part in inside.split(","):
            low, dash, high = part.partition("-")
            if not low.isdigit() or (dash and not high.isdigit()):
                raise ValueError(f"{text!r}: {part!r} in {item!r} is not a number or a range A-B")
            first, last = int(low), int(high) if dash else int(low)
            if last < first:
                raise ValueError(f"{text!r}: the range {part!r} runs backwards")
            width = len(low) if _padded(low) or (dash and len(low) == len(high)) else 0
            out += [f"{prefix}{n:0{width}d}{suffix}" for n in range(first, last + 1)]
    return out


def _items(text: str) -> list[str]:
    """TEXT split at the commas outside brackets."""
    items, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    return items


def shown(names: Iterable[str], limit: int = 12, quote: str = "") -> str:
    """NAMES compressed, cut after LIMIT pieces (a name, a number or a range in brackets), with how many hosts the
    cut leaves out: the human and markdown forms of a report over a thousand nodes stay one readable line.  QUOTE
    goes around the list itself (markdown's `)."""
    everything = set(names)
    kept, used = [], 0
    for item in _items(compress(everything)) if everything else []:
        prefix, bracket, rest = item.partition("[")
        ranges = rest[:-1].split(",") if bracket else [item]
        take = ranges[:limit - used]
        used += len(take)
        if take:
            kept.append(f"{prefix}[{','.join(take)}]" if bracket else take[0])
        if used >= limit:
            break
    text = ",".join(kept)
    left = len(everything) - len(expand(text)) if text else 0
    return (f"{quote}{text}{quote}" if text else "") + (
        f" and {left} more host{'s' if left != 1 else ''} (--json lists them all)" if left else "")
