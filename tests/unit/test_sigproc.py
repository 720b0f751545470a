"""The audit's verifier process (ledger.audit.sigproc): every bad signature is found with
its index through the real child process, and nothing is lost when the process does not
start, dies or answers part of the work: what it did not answer is verified here."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from ledger import crypto
from ledger.audit import sigpipe, sigproc
from ledger.verify import rawsig
from ledger.verify.rawsig import Raw
from tests.factories import key


def _items(count: int, bad: set[int], start: int = 0) -> list[Raw]:
    signer = key(7)
    public = crypto.public_key_to_raw(signer.public_key())
    out: list[Raw] = []
    for i in range(start, start + count):
        domain = crypto.DOMAIN_EVENT if i % 2 else crypto.DOMAIN_EVENT_V2
        message = b"event %d" % i
        signature = crypto.sign(signer, domain, message)
        if i in bad:  # one bit of the signature flipped
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        out.append((i, public, domain, message, signature))
    return out


def test_the_process_finds_every_bad_signature_with_its_index() -> None:
    items = _items(700, {0, 255, 256, 699})
    # a wrong domain, a short key and a short signature are refused as crypto.verify does
    items[10] = (10, items[10][1], crypto.DOMAIN_LABEL, items[10][3], items[10][4])
    items[20] = (20, items[20][1][:31], *items[20][2:])
    items[30] = (*items[30][:4], items[30][4][:63])
    process = sigproc.VerifierProcess()
    for at in range(0, 700, 256):
        process.send(items[at : at + 256])
    assert process.bad() == [0, 10, 20, 30, 255, 256, 699]
    assert process.bad() == [0, 10, 20, 30, 255, 256, 699]  # kept, nothing sent twice


def test_the_default_child_starts_without_site_and_answers_itself() -> None:
    # -S: the child imports the ledger, PyNaCl and cffi from the directories it is given;
    # it must answer every batch itself (a child that failed to import would leave the
    # work to this process and the results alone would not show it)
    process = sigproc.VerifierProcess()
    assert process._proc is not None and "-S" in process._proc.args
    for at in range(0, 300, 100):
        process.send(_items(100, {at + 1}, at))
    deadline = time.monotonic() + 60
    while process._sent:
        assert time.monotonic() < deadline, "the child did not answer"
        process._pump(0)  # writes and reads without verifying anything here
        time.sleep(0.01)
    assert process.bad() == [1, 101, 201]


def test_a_batch_larger_than_the_pipe_is_written_while_answers_are_read() -> None:
    process = sigproc.VerifierProcess()
    for at in range(0, 3000, 1500):  # ~600 kB a batch, answers read meanwhile
        process.send(_items(1500, {at + 7}, at))
    assert process.bad() == [7, 1507]


def test_the_replay_does_not_wait_for_a_process_still_starting() -> None:
    # a process that reads nothing for 1.5 s: ~600 kB of batches (under WAITING) are
    # queued without waiting for it, then written and answered by `bad`
    child = (
        "import sys, time; time.sleep(1.5); sys.path.insert(0, sys.argv[1]);"
        " from ledger.verify.rawsig import serve; serve()"
    )
    process = sigproc.VerifierProcess([sys.executable, "-c", child, sigproc._ROOT])
    items = _items(1500, {3, 1499})
    started = time.monotonic()
    for at in range(0, 1500, 128):
        process.send(items[at : at + 128])
    assert time.monotonic() - started < 1.0
    # the process verifies from the first batch, `bad` on this thread from the last
    assert len(process._sent) == 12
    assert process.bad() == [3, 1499]
    assert not process._sent and not process._queued


def test_a_process_that_does_not_start_leaves_the_work_here() -> None:
    process = sigproc.VerifierProcess(["/nonexistent/python"])
    process.send(_items(40, {3}))
    process.send(_items(40, {45}, 40))
    assert process.bad() == [3, 45]


def test_a_process_that_dies_leaves_what_it_did_not_answer_here() -> None:
    # answers the first batch, then exits: the other two are verified on this process
    child = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        " from ledger.verify import rawsig;"
        " items = rawsig.read_frame(sys.stdin.buffer);"
        " sys.stdout.buffer.write(rawsig.answer(rawsig.bad_raw(items)))"
    )
    process = sigproc.VerifierProcess([sys.executable, "-c", child, sigproc._ROOT])
    process.send(_items(30, {5}))
    process.send(_items(30, {31, 59}, 30))
    process.send(_items(30, {60}, 60))
    assert process.bad() == [5, 31, 59, 60]


def test_a_process_that_answers_nothing_leaves_everything_here() -> None:
    process = sigproc.VerifierProcess([sys.executable, "-c", "import sys; sys.stdin.read()"])
    process.send(_items(50, {49}))
    assert process.bad() == [49]


@pytest.mark.parametrize("bad", [{0}, {640}, {1279}, {0, 639, 640, 1279}])
def test_the_process_and_this_thread_meet_without_losing_or_repeating(bad: set[int]) -> None:
    # ten batches, the process slowed down: whichever batch is verified by which side,
    # every bad index is reported once
    child = (
        "import sys, time; time.sleep(0.3); sys.path.insert(0, sys.argv[1]);"
        " from ledger.verify.rawsig import serve; serve()"
    )
    for command in (None, [sys.executable, "-c", child, sigproc._ROOT]):
        process = sigproc.VerifierProcess(command)
        items = _items(1280, bad)
        for at in range(0, 1280, 128):
            process.send(items[at : at + 128])
        assert process.bad() == sorted(bad)


def test_close_ends_the_process() -> None:
    process = sigproc.VerifierProcess()
    process.send(_items(10, set()))
    proc = process._proc
    process.close()
    assert proc is not None and proc.returncode is not None


def test_serve_answers_each_batch_in_order() -> None:
    batches = [_items(5, {2}), _items(0, set()), _items(4, {5, 8}, 5)]
    source = io.BytesIO(b"".join(rawsig.frame(b) for b in batches))
    sink = io.BytesIO()
    rawsig.serve(source, sink)
    assert sink.getvalue() == rawsig.answer([2]) + rawsig.answer([]) + rawsig.answer([5, 8])


@pytest.mark.parametrize("cut", [1, 4, 5, -1])
def test_serve_ends_at_a_cut_frame_without_answering_it(cut: int) -> None:
    # a parent that died mid-write: the whole batches before are answered, the cut one
    # not (its items are verified by the parent's fallback, if it lives)
    whole = rawsig.frame(_items(3, {1}))
    source = io.BytesIO(whole + rawsig.frame(_items(3, {4}, 3))[:cut])
    sink = io.BytesIO()
    rawsig.serve(source, sink)
    assert sink.getvalue() == rawsig.answer([1])


@pytest.mark.parametrize(
    "head",
    [
        b"\x80\x05\x95\x00",  # a pickle's first bytes: an old parent's batch
        b"RS1" + bytes([rawsig.MAGIC[3] + 1]) + rawsig.LENGTH.pack(4),  # another marshal
        rawsig.MAGIC + rawsig.LENGTH.pack(rawsig.MAX_FRAME + 1),  # over the size
    ],
)
def test_serve_ends_at_once_on_a_frame_it_does_not_read(head: bytes) -> None:
    # a child fed another format or a huge length stops (its parent then verifies the
    # batch itself) instead of waiting for gigabytes that never come
    source = io.BytesIO(head + b"\0" * 64)
    sink = io.BytesIO()
    rawsig.serve(source, sink)
    assert sink.getvalue() == b""


def test_a_frame_read_in_pieces_is_read_whole() -> None:
    # a raw (unbuffered) stream may return fewer bytes a read than asked for
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            take = 3 if size < 0 else min(3, size)
            piece, self.data = self.data[:take], self.data[take:]
            return piece

    items = _items(4, set())
    source = Trickle(rawsig.frame(items) + rawsig.frame(items[:1]))
    assert rawsig.read_frame(source) == items  # type: ignore[arg-type]
    assert rawsig.read_frame(source) == items[:1]  # type: ignore[arg-type]
    assert rawsig.read_frame(source) is None  # type: ignore[arg-type]


def test_a_batch_that_cannot_be_framed_is_verified_here() -> None:
    # an index marshal cannot write: the process is stopped (answers come in order, so
    # a batch it never got must not wait for one) and every batch is verified here
    class Index(int):
        pass

    process = sigproc.VerifierProcess()
    process.send(_items(20, {3}))
    odd = [(Index(i), *rest) for i, *rest in _items(20, {25}, 20)]
    process.send(odd)  # type: ignore[arg-type]
    process.send(_items(20, {41}, 40))
    assert process._proc is None
    assert process.bad() == [3, 25, 41]


def test_a_frame_carries_bytes_like_fields_as_bytes() -> None:
    items = _items(2, {1})
    views: list[Raw] = [(i, bytearray(p), d, memoryview(m), s) for i, p, d, m, s in items]  # type: ignore[misc]
    assert rawsig.read_frame(io.BytesIO(rawsig.frame(views))) == items


def test_the_child_starts_without_pickle_typing_or_pynacl_bindings() -> None:
    # what a verifier child imports is what its start costs (docs/PERFORMANCE.md
    # "audit42"): the loop runs on PyNaCl's compiled module, batches cross as marshal
    check = (
        "import sys; sys.path[:0] = sys.argv[1:]; from ledger.verify import rawsig;"
        " print(sorted(m for m in ('pickle', 'typing', 'nacl.bindings', 'cryptography')"
        " if m in sys.modules))"
    )
    command = sigproc.child_command()
    command[command.index("-c") + 1] = check
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("tampered", [0, 300, 1999])
def test_the_pipeline_on_the_process_finds_one_tampered_signature(tampered: int) -> None:
    items = _items(2000, {tampered})
    pipe = sigpipe.SignaturePipeline(batch=256, process=True)
    for item in items[:1500]:
        pipe.add(item)
    pipe.flush()  # a chunk's end: its partial batch (1500 = 11 x 128 + 92) goes too
    assert pipe._items == []
    for item in items[1500:]:
        pipe.add(item)
    assert pipe.bad() == [tampered]


@pytest.mark.parametrize("tampered", [0, 255, 256, 1999])
def test_the_last_flush_hands_the_partial_batch_to_the_process(tampered: int) -> None:
    # 2000 items in batches of 256: the last 208 are a partial batch, which `flush`
    # sends to the process (the replay then reads the projections meanwhile)
    items = _items(2000, {tampered})
    pipe = sigpipe.SignaturePipeline(batch=256, process=True)
    sent: list[int] = []
    assert pipe._process is not None
    real = pipe._process.send

    def spy(batch: list[Raw]) -> None:
        sent.append(len(batch))
        real(batch)

    pipe._process.send = spy  # type: ignore[method-assign]
    for item in items:
        pipe.add(item)
    pipe.flush()
    assert sent == [128] * 15 + [80]  # PROCESS_BATCH caps the batch; the tail went too
    assert pipe._items == []
    assert pipe.bad() == [tampered]


@pytest.mark.parametrize("command", [["/nonexistent/python"], None])
def test_a_flush_then_bad_with_a_dead_process_verifies_the_tail_here(
    command: list[str] | None,
) -> None:
    # a process that never started, or one killed before it answered: the partial batch
    # handed over by `flush` is verified on this process by `bad`
    pipe = sigpipe.SignaturePipeline(batch=256, process=True)
    assert pipe._process is not None
    pipe._process.close()  # as if it died
    if command is not None:
        pipe._process = sigproc.VerifierProcess(command)
    for item in _items(300, {7, 299}):
        pipe.add(item)
    pipe.flush()
    assert pipe.bad() == [7, 299]


def test_a_flush_on_the_threads_starts_the_queued_items() -> None:
    pipe = sigpipe.SignaturePipeline(batch=256, threads=2)
    for item in _items(100, {42}):
        pipe.add(item)
    pipe.flush()
    assert pipe._items == [] and len(pipe._waiting) == 1
    assert pipe.bad() == [42]


def test_the_process_is_wanted_for_larger_logs_without_chosen_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sigproc.os, "cpu_count", lambda: 2)
    assert sigproc.wanted(sigproc.PROCESS_FROM, None) == (sigproc.os.name == "posix")
    assert not sigproc.wanted(sigproc.PROCESS_FROM - 1, None)
    assert not sigproc.wanted(10**6, 2)  # verify threads asked for
    monkeypatch.setattr(sigproc.os, "cpu_count", lambda: 1)
    assert not sigproc.wanted(10**6, None)
