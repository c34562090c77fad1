"""The local SMTP sink that `lbb dev`, the tests and the benchmarks send e-mail to."""

from __future__ import annotations

import smtplib

from lbb.devstack import free_port
from lbb.mailsink import SmtpServer


def test_a_new_connection_does_not_parse_what_the_sink_holds() -> None:
    # aiosmtpd inspects every member of its handler on each new connection: the parsed messages must
    # not be one of them, or every connection parses every e-mail received so far (seconds, in the
    # benchmarks, once thousands had arrived).
    server = SmtpServer(free_port())
    server.start()
    try:
        for i in range(3):
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
                client.sendmail(
                    "a@example.nhs.uk",
                    [f"r{i}@example.nhs.uk"],
                    f"To: r{i}@example.nhs.uk\r\nSubject: {i}\r\n\r\nhello\r\n",
                )
        assert len(server.sink.received) == 3
        assert server.sink._parsed == []  # nothing parsed until somebody reads the messages
        assert [m["Subject"] for m in server.sink.messages] == ["0", "1", "2"]
        assert [m["Subject"] for m in server.sink.to("r1@example.nhs.uk")] == ["1"]
    finally:
        server.stop()


def test_the_sink_refuses_one_recipient_with_the_reply_it_is_given() -> None:
    server = SmtpServer(free_port())
    server.start()
    reply = "550 5.1.1 <ann@example.nhs.uk>: Recipient address rejected"
    server.sink.refuse_with["ann@example.nhs.uk"] = reply
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.mail("a@example.nhs.uk")
            code, text = client.rcpt("ann@example.nhs.uk")
            assert (code, text.decode()) == (550, reply.removeprefix("550 "))
            assert client.rcpt("bob@example.nhs.uk")[0] == 250
        assert server.sink.refused == ["ann@example.nhs.uk"]
    finally:
        server.stop()
