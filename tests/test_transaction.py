"""The transaction module: dot-stuffing and CRLF normalisation (a property over any body),
and MAIL/RCPT/DATA/BDAT/RSET over real sockets to aiosmtpd personas, every step recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpprobe.recorder import Recorder
from smtpprobe.transaction import (
    DATA_END,
    Transaction,
    data_payload,
    dot_stuff,
    dot_unstuff,
    normalize_crlf,
)
from tests.mail_personas import RECEIVED
from tests.ports import ServerAddress

Start = Callable[..., Awaitable[ServerAddress]]

# Bodies built from the characters that matter to the framing: dots, CR, LF, text.
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from([b".", b"\r", b"\n", b"\r\n", b".\r\n", b"a", b"..", b" "]), max_size=60
    ).map(b"".join),
)


@given(_BODIES)
def test_dot_stuffing_round_trips_any_body(body: bytes) -> None:
    payload = data_payload(body)
    assert dot_unstuff(payload) == normalize_crlf(body)
    # Only the last line of the payload can end the data.
    assert b"\r\n.\r\n" not in payload[:-3] and not payload[:-3].startswith(b".\r\n")
    # Nothing but CRLF ends a line on the wire (RFC 5321 §2.3.8).
    assert payload.count(b"\n") == payload.count(b"\r\n") == payload.count(b"\r")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", b".\r\n"),
        (b"one", b"one\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b"a\n.\nb\r.x", b"a\r\n..\r\nb\r\n..x\r\n.\r\n"),
        (b"a\r\n\r\n", b"a\r\n\r\n.\r\n"),
    ],
)
def test_data_payload_examples(body: bytes, expected: bytes) -> None:
    assert data_payload(body) == expected
    assert dot_stuff(body) + b".\r\n" == expected


def test_unstuff_needs_the_terminator() -> None:
    with pytest.raises(ValueError):
        dot_unstuff(b"a\r\n")


async def _session(address: ServerAddress) -> Recorder:
    rec = Recorder(
        deadline=asyncio.get_running_loop().time() + 20,
        started=time.perf_counter(),
        command_timeout=10,
        on_event=None,
    )
    await rec.wire.connect(address.host, address.port, timeout=5)
    await rec.exchange("banner", b"")
    await rec.exchange("EHLO", b"EHLO client.test")
    return rec


@pytest.mark.parametrize("chunked", [False, True])
async def test_message_arrives_byte_for_byte(smtp_server: Start, chunked: bool) -> None:
    body = b"Subject: dots\n\n.\n..leading\r\nbare\rcr\nend"
    address = await smtp_server("bdat" if chunked else "accept")
    rec = await _session(address)
    tx = Transaction(rec)
    assert (await tx.mail("a@client.test")).code == 250
    assert (await tx.rcpt("alice@mx.test")).code == 250
    send = tx.bdat(body, chunk_size=7) if chunked else tx.data(body)
    end = await send
    await tx.rset()
    rec.wire.close()
    got = RECEIVED[-1]
    assert end.code == 250 and got.queue_id in end.lines[0]
    assert got.content == normalize_crlf(body) and got.chunked is chunked
    phases = [ex.phase for ex in rec.exchanges]
    chunks = -(-len(normalize_crlf(body)) // 7)
    middle = ["BDAT"] * (chunks - 1) if chunked else ["DATA"]
    assert phases == ["banner", "EHLO", "MAIL", "RCPT", *middle, DATA_END, "RSET"]
    last = b"BDAT %d LAST" % (len(normalize_crlf(body)) % 7 or 7)
    assert rec.exchanges[-2].command == (last if chunked else b".")


async def test_data_refused_sends_no_message(smtp_server: Start) -> None:
    rec = await _session(await smtp_server("accept"))
    tx = Transaction(rec)
    await tx.mail("a@client.test")
    reply = await tx.data(b"never sent")  # no recipient: 503 to DATA
    rec.wire.close()
    assert reply.code == 503
    assert [ex.phase for ex in rec.exchanges][-1] == "DATA"


@pytest.mark.slow
def test_any_body_arrives_unchanged_at_a_real_server(
    start_controller: Callable[..., ServerAddress],
) -> None:
    """The property again, read back by aiosmtpd's own DATA reader over a socket."""
    from hypothesis import settings

    from tests.conftest import PersonaController
    from tests.ports import free_port

    server = start_controller(
        PersonaController(
            "accept", starttls=None, hostname="127.0.0.1", port=free_port(), ready_timeout=5.0
        )
    )

    async def deliver(body: bytes) -> bytes:
        rec = await _session(server)
        tx = Transaction(rec)
        await tx.mail("a@client.test")
        await tx.rcpt("alice@mx.test")
        end = await tx.data(body)
        rec.wire.close()
        assert end.code == 250, end
        return RECEIVED[-1].content

    @settings(max_examples=40, deadline=None)
    @given(_BODIES)
    def round_trip(body: bytes) -> None:
        assert asyncio.run(deliver(body)) == normalize_crlf(body)

    round_trip()
