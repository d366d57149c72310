"""A real SMTP server on loopback for the alert mail tests (aiosmtpd).

Usage: smtp_receiver.py starttls|implicit|plain PORT CERT KEY OUT_DIR USER PASSWORD

Requires STARTTLS before AUTH (starttls mode), speaks TLS from the first
byte (implicit mode), or speaks no TLS at all, as a LAN relay (plain mode:
no STARTTLS offered, CERT and KEY unused, AUTH offered in the clear),
accepts only USER/PASSWORD, and writes each mail it
accepts to OUT_DIR/mail-N.json. Prints "ready" once it listens; runs until
killed.
"""

import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

mode, port, cert, key, out_dir, user, password = sys.argv[1:8]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len(os.listdir(out_dir))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf8", "replace"),
            # In implicit mode the socket speaks only TLS (aiosmtpd leaves
            # session.ssl unset there).
            "tls": mode == "implicit" or session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }
        path = os.path.join(out_dir, f"mail-{n}.json")
        with open(path + ".part", "w") as f:
            json.dump(record, f)
        os.rename(path + ".part", path)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    # handled=False: a refusal is answered "535 5.7.8", as a real server
    # does (aiosmtpd otherwise sends nothing and the client times out).
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
common = dict(hostname="127.0.0.1", port=int(port), authenticator=authenticator)
if mode == "starttls":
    controller = Controller(
        Handler(),
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
        **common,
    )
elif mode == "plain":
    controller = Controller(Handler(), auth_require_tls=False, **common)
else:
    # aiosmtpd does not count implicit TLS as TLS for AUTH; the socket is
    # TLS from the first byte all the same.
    controller = Controller(
        Handler(), ssl_context=context, auth_require_tls=False, **common
    )
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
