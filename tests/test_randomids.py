"""randomids: ids drawn many at a time, each handed out once, never repeated by a forked worker."""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid

import pytest

from target_middleware import randomids
from target_middleware.randomids import BATCH, random_id, uuid4_hex

HEX = re.compile(r"[0-9a-f]{32}")


def test_random_ids_are_32_hex_digits_and_never_repeat_across_draws() -> None:
    ids = [random_id() for _ in range(5 * BATCH + 3)]
    assert all(HEX.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_uuid4_ids_are_version_4_variant_rfc_4122_in_every_draw() -> None:
    ids = [uuid4_hex() for _ in range(5 * BATCH + 3)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, value)


def test_threads_never_share_an_id() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(random_id() for _ in range(3 * BATCH))
        into.extend(uuid4_hex() for _ in range(3 * BATCH))

    threads = [threading.Thread(target=draw, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in found for i in into]
    assert len(set(every)) == len(every) == 4 * 6 * BATCH


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_a_forked_worker_does_not_hand_out_its_parent_s_ids() -> None:
    while not (randomids._random and randomids._uuid4):  # both pools hold ids now
        random_id(), uuid4_hex()
    left = (list(randomids._random), list(randomids._uuid4))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, f"{random_id()} {uuid4_hex()}".encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_random, child_uuid = pipe.read().split()
    os.waitpid(pid, 0)
    assert child_random not in left[0]
    assert child_uuid not in left[1]
    assert (list(randomids._random), list(randomids._uuid4)) == left  # the parent's pools untouched
