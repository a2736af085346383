#!/usr/bin/env python3
"""Mail clients for the e2e suite (mail_test.go), using only the standard
library: imaplib over implicit TLS, smtplib with STARTTLS, both verifying
the node's certificate against the exported node CA.

    mail.py read   --port P --ca CA --user U --password W --subject S [--wait SECS]
        polls INBOX until a message with subject S is there; prints JSON
        {"found_at": unix time, "polls": n, "message": the raw message}
    mail.py idle   --port P --ca CA --user U --password W [--wait SECS]
        selects INBOX, IDLEs, prints "idling" when the server confirmed,
        then JSON {"exists_at": unix time, "line": the EXISTS line}
    mail.py submit --port P --ca CA --user U --password W --to T --subject S --body B
        STARTTLS + AUTH on submission; prints JSON {"accepted_at": unix time}
        taken right after the 250 to the end of DATA
    mail.py mx     --host H --port P --helo D --sender F --rcpt R
        plain SMTP to another node's mx; prints JSON with the replies to
        MAIL FROM and RCPT TO ([code, text])

Every failure is an exception (exit status 1, traceback on stderr).
"""
import argparse
import imaplib
import json
import re
import smtplib
import ssl
import sys
import time


def tls(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def imap(args):
    conn = imaplib.IMAP4_SSL("127.0.0.1", args.port, ssl_context=tls(args.ca), timeout=20)
    conn.login(args.user, args.password)
    return conn


def read(args):
    conn = imap(args)
    deadline = time.time() + args.wait
    polls = 0
    while True:
        polls += 1
        typ, _ = conn.select("INBOX", readonly=True)
        assert typ == "OK", typ
        typ, data = conn.search(None, "SUBJECT", '"%s"' % args.subject)
        assert typ == "OK", typ
        nums = data[0].split()
        if nums:
            found = time.time()
            typ, msg = conn.fetch(nums[-1], "(BODY.PEEK[])")
            assert typ == "OK", typ
            raw = msg[0][1].decode("utf-8", "replace")
            conn.logout()
            print(json.dumps({"found_at": found, "polls": polls, "message": raw}))
            return
        if time.time() > deadline:
            raise SystemExit("no message with subject %r after %s s" % (args.subject, args.wait))
        time.sleep(0.05)


def idle(args):
    conn = imap(args)
    typ, _ = conn.select("INBOX")
    assert typ == "OK", typ
    tag = conn._new_tag().decode()
    conn.send(("%s IDLE\r\n" % tag).encode())
    line = conn.readline().decode()
    assert line.startswith("+"), line
    print("idling", flush=True)
    conn.sock.settimeout(args.wait)
    while True:
        line = conn.readline().decode()
        if not line:
            raise SystemExit("connection closed while idling")
        if re.match(r"\* \d+ EXISTS", line):
            at = time.time()
            break
    conn.send(b"DONE\r\n")
    while not conn.readline().decode().startswith(tag):
        pass
    conn.logout()
    print(json.dumps({"exists_at": at, "line": line.strip()}), flush=True)


def submit(args):
    s = smtplib.SMTP("127.0.0.1", args.port, local_hostname="client.test", timeout=20)
    s.starttls(context=tls(args.ca))
    s.login(args.user, args.password)
    msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n" % (args.user, args.to, args.subject, args.body)
    refused = s.sendmail(args.user, [args.to], msg.encode())
    at = time.time()
    assert not refused, refused
    s.quit()
    print(json.dumps({"accepted_at": at}))


def mx(args):
    s = smtplib.SMTP(args.host, args.port, local_hostname=args.helo, timeout=20)
    s.ehlo(args.helo)
    out = {"mail": list(s.mail(args.sender))}
    if out["mail"][0] == 250:
        out["rcpt"] = list(s.rcpt(args.rcpt))
    s.rset()
    s.quit()
    for k in out:
        out[k][1] = out[k][1].decode("utf-8", "replace")
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["read", "idle", "submit", "mx"])
    p.add_argument("--host")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--subject")
    p.add_argument("--body")
    p.add_argument("--to")
    p.add_argument("--helo")
    p.add_argument("--sender")
    p.add_argument("--rcpt")
    p.add_argument("--wait", type=float, default=15)
    args = p.parse_args()
    {"read": read, "idle": idle, "submit": submit, "mx": mx}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
