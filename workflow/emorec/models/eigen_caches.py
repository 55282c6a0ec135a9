"""The cache sizes TensorFlow's Eigen plans its matrix products with, fixed instead of read from the CPU.

Eigen cuts every matrix product (TensorFlow's convolutions and dense layers on CPU) into blocks
sized from the L1, L2 and L3 cache sizes the CPU reports, and with more than one thread per op
it also shares the blocks among the threads by them. The block along the summed dimension sets
the order of the sums, so two CPUs with other caches give other last bits. Eigen keeps the
sizes in one static struct (``manage_caching_sizes``'s ``m_cacheSizes``), filled from CPUID on
first use; :func:`pin` writes fixed sizes into it first. The struct is a local symbol of
``libtensorflow_cc.so.2``: it is found by name in the library's ELF symbol table.
"""

import ctypes
import mmap
import struct
from pathlib import Path

import numpy as np

LIBRARY = "libtensorflow_cc.so.2"
#: Eigen's ``struct CacheSizes { std::ptrdiff_t m_l1, m_l2, m_l3; }`` and the guard of its
#: one-time initialisation (Itanium C++ ABI: a first byte of 1 means done).
SIZES_SYMBOL = b"_ZZN5Eigen8internal20manage_caching_sizesENS_6ActionEPlS2_S2_E12m_cacheSizes"
GUARD_SYMBOL = b"_ZGVZN5Eigen8internal20manage_caching_sizesENS_6ActionEPlS2_S2_E12m_cacheSizes"
#: What portable mode pins: a common x86-64 core (32 KiB L1 data, 512 KiB L2, 16 MiB L3).
PORTABLE_SIZES = (32 * 1024, 512 * 1024, 16 * 1024 * 1024)

_SYMBOL = np.dtype(
    [("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")]
)


def symbols(path: Path, names: list[bytes]) -> dict[bytes, tuple[int, int]]:
    """``(address relative to the load base, size)`` of each of ``names`` found in the ELF
    symbol table (``.symtab``, local symbols included) of the 64-bit shared library ``path``."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as elf:
        if elf[:5] != b"\x7fELF\x02":
            return {}
        phoff, shoff = struct.unpack_from("<QQ", elf, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", elf, 0x36)
        sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
        loads = [struct.unpack_from("<IIQQ", elf, phoff + i * phentsize) for i in range(phnum)]
        first_vaddr = min(vaddr for kind, _, offset, vaddr in loads if kind == 1)  # PT_LOAD
        found: dict[bytes, tuple[int, int]] = {}
        for _, kind, _, _, offset, size, link, _, _, entsize in sections:
            if kind != 2 or entsize != _SYMBOL.itemsize:  # SHT_SYMTAB
                continue
            str_offset, str_size = sections[link][4], sections[link][5]
            table = np.frombuffer(
                elf, dtype=_SYMBOL, count=size // entsize, offset=offset
            ).copy()  # no view left on the map
            for name in names:
                at = elf.find(name + b"\0", str_offset, str_offset + str_size)
                hits = np.flatnonzero(table["name"] == at - str_offset) if at >= 0 else np.empty(0, np.int64)
                if len(hits):
                    found[name] = (int(table["value"][hits[0]]) - first_vaddr, int(table["size"][hits[0]]))
        return found


def _loaded(library: str) -> tuple[Path, int] | None:
    """The file and load base of ``library`` in this process, from ``/proc/self/maps``."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[5].endswith("/" + library) and int(fields[2], 16) == 0:
            return Path(fields[5]), int(fields[0].split("-")[0], 16)
    return None


def _struct() -> tuple[ctypes.Array, ctypes.c_uint8] | None:
    """Eigen's cache sizes and their guard in this process's TensorFlow, or None when this
    build does not have them where expected."""
    import tensorflow  # noqa: F401  (loads the library)

    loaded = _loaded(LIBRARY)
    if loaded is None:
        return None
    path, base = loaded
    found = symbols(path, [SIZES_SYMBOL, GUARD_SYMBOL])
    if found.get(SIZES_SYMBOL, (0, 0))[1] != 24 or found.get(GUARD_SYMBOL, (0, 0))[1] != 8:
        return None
    return (ctypes.c_int64 * 3).from_address(base + found[SIZES_SYMBOL][0]), ctypes.c_uint8.from_address(
        base + found[GUARD_SYMBOL][0]
    )


def pin(sizes: tuple[int, int, int] = PORTABLE_SIZES) -> bool:
    """Make Eigen in this process's TensorFlow plan with ``sizes`` (L1, L2, L3 bytes) on any
    CPU; best before TensorFlow's first op. False, changing nothing, when this TensorFlow
    build does not have the struct where expected."""
    found = _struct()
    if found is None:
        return False
    cached, guard = found
    cached[0], cached[1], cached[2] = sizes
    guard.value = 1  # initialised: Eigen will not read CPUID over them
    return True


def current() -> tuple[int, int, int] | None:
    """The sizes Eigen plans with now (all 0 before its first use), or None when not found."""
    found = _struct()
    return None if found is None else (int(found[0][0]), int(found[0][1]), int(found[0][2]))
