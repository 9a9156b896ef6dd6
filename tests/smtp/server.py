#!/usr/bin/env python3
"""A loopback SMTP server for skimtrace's notify tests (aiosmtpd).

Listens on 127.0.0.1 on a free port and prints the port on the first line of stdout.
Every accepted message is stored in --dir as NNNNNN.eml (the bytes received) beside
NNNNNN.json (envelope sender and recipients); the .eml appears last, by rename, so a
reader never sees half a message.

Failure injection:
  --tempfail-once ADDR  answer RCPT TO:<ADDR> with 451 the first time, 250 afterwards
  --reject ADDR         answer RCPT TO:<ADDR> with 550 every time
  --close-after N       after N stored messages, drop the connection once at the next MAIL
  --hang-after N        after N stored messages, never answer MAIL (the client hangs; a
                        test kills it to simulate a crash)
  --delay-data SECONDS  wait this long before answering each message's data (a batch that
                        takes a while, for tests of two batches at once)
TLS and login:
  --tls-cert PEM --tls-key PEM  offer STARTTLS with this certificate, and require it
  --auth USER:PASSWORD  require AUTH (PLAIN or LOGIN, only after STARTTLS) with this login
The server stops by itself after --lifetime seconds (default 300).
"""
import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.stored = 0
        self.tempfailed = set()
        self.closed_once = False

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        a = self.args
        if a.close_after is not None and self.stored >= a.close_after and not self.closed_once:
            self.closed_once = True
            server.transport.abort()
            return "421 4.3.2 closing"
        if a.hang_after is not None and self.stored >= a.hang_after:
            await asyncio.sleep(3600)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.args.reject:
            return "550 5.1.1 mailbox unavailable"
        if address in self.args.tempfail_once and address not in self.tempfailed:
            self.tempfailed.add(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.delay_data:
            await asyncio.sleep(self.args.delay_data)
        self.stored += 1
        base = os.path.join(self.args.dir, "%06d" % self.stored)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as %06d" % self.stored


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--tempfail-once", action="append", default=[])
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--close-after", type=int)
    p.add_argument("--hang-after", type=int)
    p.add_argument("--delay-data", type=float)
    p.add_argument("--lifetime", type=float, default=300)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args)
    opts = {}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        opts.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            return AuthResult(success=ok, handled=False)

        opts.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="skimtrace-test", data_size_limit=None, **opts),
        "127.0.0.1",
        0,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    try:
        await asyncio.wait_for(server.serve_forever(), timeout=args.lifetime)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
