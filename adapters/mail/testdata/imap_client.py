#!/usr/bin/env python3
"""Scripted IMAP client (Python imaplib) for the mail adapter's tests.

Driven by adapters/mail/realclient_test.go. Modes:
  full        one long session exercising the server; prints JSON results
  idle        IDLE on INBOX, send a mail with smtplib, measure the EXISTS latency
  concurrent  N clients doing login + select + fetch at once; prints the time
Connection details come from the environment (HOST, IMAP_PORT, IMAPS_PORT,
SMTPS_PORT, CA, USER, PASS).
"""
import base64
import email
import email.policy
import hashlib
import imaplib
import json
import os
import re
import smtplib
import socket
import ssl
import sys
import threading
import time

HOST = os.environ.get("HOST", "127.0.0.1")
CA = os.environ["CA"]
USER = os.environ["USER_ADDR"]
PASS = os.environ["PASS"]


def ctx():
    c = ssl.create_default_context(cafile=CA)
    c.check_hostname = False  # the test certificate names localhost
    return c


def starttls_login():
    m = imaplib.IMAP4(HOST, int(os.environ["IMAP_PORT"]))
    caps_before = m.capabilities
    m.starttls(ssl_context=ctx())
    m.login(USER, PASS)
    return m, caps_before


def ok(res):
    typ, data = res
    if typ != "OK":
        raise RuntimeError("command failed: %r %r" % (typ, data))
    return data


def uid_from_appenduid(m):
    code = m.untagged_responses.get("APPENDUID")
    return code


def full():
    out = {}
    m, caps_before = starttls_login()
    out["logindisabled_before_tls"] = "LOGINDISABLED" in caps_before
    out["caps"] = ok(m.capability())[0].decode().split()

    data = ok(m.list('""', '"*"'))
    out["list"] = [d.decode() for d in data]
    typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
    out["list_special"] = [d.decode() for d in m._untagged_response(typ, data, "LIST")[1] if d]
    out["namespace"] = ok(m.namespace())[0].decode()

    data = ok(m.select("INBOX"))
    out["exists"] = int(data[0])

    # Find the two messages delivered by swaks: plain text and attachment.
    plain_uid = ok(m.uid("SEARCH", None, "HEADER", "X-Test", "alpha"))[0].decode().split()
    attach_uid = ok(m.uid("SEARCH", None, "HEADER", "X-Test", "attachment"))[0].decode().split()
    out["search_header"] = [plain_uid, attach_uid]
    pu, au = plain_uid[0], attach_uid[0]

    # FETCH full, ENVELOPE, BODYSTRUCTURE, partial, RFC822 legacy items.
    data = ok(m.uid("FETCH", pu, "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"))
    out["fetch_meta"] = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
    data = ok(m.uid("FETCH", pu, "(BODY.PEEK[])"))
    full_msg = data[0][1]
    out["full_len"] = len(full_msg)
    data = ok(m.uid("FETCH", pu, "(BODY.PEEK[]<0.100>)"))
    out["partial_len"] = len(data[0][1])
    out["partial_ok"] = data[0][1] == full_msg[:100]
    out["partial_hdr"] = data[0][0].decode()
    data = ok(m.uid("FETCH", pu, "(RFC822.PEEK)"))
    out["rfc822_peek_same"] = data[0][1] == full_msg
    out["rfc822_peek_item"] = data[0][0].decode()
    data = ok(m.uid("FETCH", pu, "(RFC822.HEADER RFC822.SIZE)"))
    out["rfc822_header_ok"] = data[0][1].endswith(b"\r\n\r\n") and b"X-Test: alpha" in data[0][1]
    out["rfc822_size_item"] = "RFC822.SIZE %d" % len(full_msg) in data[0][0].decode()
    data = ok(m.uid("FETCH", pu, "(FLAGS)"))
    out["seen_after_peek"] = "\\Seen" in data[0].decode()
    data = ok(m.uid("FETCH", pu, "(RFC822.TEXT)"))
    out["rfc822_text_ok"] = b"needle" in data[0][1]
    data = ok(m.uid("FETCH", pu, "(FLAGS)"))
    out["seen_after_text"] = "\\Seen" in data[0].decode()
    data = ok(m.uid("FETCH", pu, "(RFC822)"))
    out["rfc822_same"] = data[0][1] == full_msg

    # The attachment: fetch the whole message, parse, compare bytes.
    data = ok(m.uid("FETCH", au, "(BODYSTRUCTURE)"))
    out["attach_bodystructure"] = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
    data = ok(m.uid("FETCH", au, "(BODY.PEEK[])"))
    msg = email.message_from_bytes(data[0][1], policy=email.policy.default)
    digests = []
    for part in msg.iter_attachments():
        digests.append(hashlib.sha256(part.get_payload(decode=True)).hexdigest())
    out["attach_sha256"] = digests
    # Part 2 alone, through BINARY[2] (decoded by the server).
    data = ok(m.uid("FETCH", au, "(BINARY.PEEK[2])"))
    out["binary_sha256"] = hashlib.sha256(data[0][1]).hexdigest()
    data = ok(m.uid("FETCH", au, "(BODY.PEEK[2])"))
    out["body2_sha256"] = hashlib.sha256(base64.b64decode(data[0][1])).hexdigest()

    # SEARCH: body text, TEXT, flags, keyword, NOT/OR, size, dates, UID ranges.
    def search(*crit):
        return ok(m.uid("SEARCH", None, *crit))[0].decode().split()
    out["search_body"] = search("BODY", "needle")
    out["search_text"] = search("TEXT", "NEEDLE")
    out["search_seen"] = search("SEEN")
    out["search_unseen"] = search("UNSEEN")
    ok(m.uid("STORE", au, "+FLAGS", "(\\Flagged $Important)"))
    out["search_flagged"] = search("FLAGGED")
    out["search_keyword"] = search("KEYWORD", "$important")
    out["search_not"] = search("NOT", "FLAGGED")
    out["search_or"] = search("OR", "BODY", "needle", "KEYWORD", "$Important")
    out["search_larger"] = search("LARGER", "100000")
    out["search_since"] = search("SINCE", time.strftime("%d-%b-%Y"))
    out["search_before"] = search("BEFORE", "01-Jan-2000")
    out["search_uidrange"] = search("UID", "%s:*" % au)
    out["search_subject"] = search("SUBJECT", "plain")
    out["search_from"] = search("FROM", USER.split("@")[0])
    out["search_seq"] = ok(m.search(None, "1:*"))[0].decode().split()

    # STORE flags and keywords.
    data = ok(m.uid("STORE", pu, "+FLAGS", "(\\Answered Work)"))
    out["store_add"] = data[0].decode()
    data = ok(m.uid("STORE", pu, "-FLAGS", "(Work)"))
    out["store_del"] = data[0].decode()
    data = ok(m.uid("STORE", pu, "FLAGS", "(\\Seen \\Answered Later)"))
    out["store_set"] = data[0].decode()

    # APPEND with APPENDUID, COPY with COPYUID, MOVE, EXPUNGE.
    typ, data = m.append("Drafts", "(\\Draft)", None, b"From: " + USER.encode() + b"\r\nSubject: draft\r\n\r\nDraft body\r\n")
    out["append"] = [typ, data[0].decode()]
    typ, data = m._simple_command("UID", "COPY", pu, "Archive")
    out["copy"] = [typ, data[0].decode()]
    typ, data = m._simple_command("UID", "MOVE", au, "Archive")
    out["move"] = [typ, data[0].decode() if data and data[0] else "", str(m.untagged_responses.get("COPYUID"))]
    out["move_untagged"] = {k: [x.decode() if isinstance(x, bytes) else str(x) for x in v] for k, v in m.untagged_responses.items() if k in ("EXPUNGE", "OK")}
    ok(m.noop())
    out["inbox_after_move"] = search("ALL")
    ok(m.uid("STORE", pu, "+FLAGS.SILENT", "(\\Deleted)"))
    typ, data = m.expunge()
    out["expunge"] = [typ, [d.decode() if isinstance(d, bytes) else str(d) for d in data if d]]
    out["inbox_after_expunge"] = search("ALL")
    st = ok(m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"))
    out["status_archive"] = st[0].decode()

    # Folders: CREATE, RENAME, DELETE.
    ok(m.create("Projects/2026"))
    ok(m.rename("Projects", "Work"))
    out["list_after_rename"] = [d.decode() for d in ok(m.list('""', '"Work*"'))]
    ok(m.delete("Work/2026"))
    ok(m.delete("Work"))
    out["list_after_delete"] = [d.decode() for d in ok(m.list('""', '"Work*"')) if d]
    typ, data = m.delete("INBOX")
    out["delete_inbox"] = typ
    m.logout()
    print(json.dumps(out))


def idle():
    m, _ = starttls_login()
    ok(m.select("INBOX"))
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    line = m.readline()
    if not line.startswith(b"+"):
        raise RuntimeError("no IDLE continuation: %r" % line)
    result = {}
    times = {}

    def send():
        s = smtplib.SMTP_SSL(HOST, int(os.environ["SMTPS_PORT"]), context=ctx())
        s.login(USER, PASS)
        times["t0"] = time.time()
        s.sendmail(USER, [USER], "From: %s\r\nTo: %s\r\nSubject: idle test\r\n\r\nwake up\r\n" % (USER, USER))
        times["t250"] = time.time()
        s.quit()

    th = threading.Thread(target=send)
    th.start()
    m.sock.settimeout(10)
    while True:
        line = m.readline()
        if re.match(rb"\* \d+ EXISTS", line):
            t_exists = time.time()
            break
    th.join()
    m.send(b"DONE\r\n")
    while True:
        line = m.readline()
        if line.startswith(tag):
            break
    result["exists_after_250_s"] = max(0.0, t_exists - times["t250"])
    result["exists_after_send_start_s"] = t_exists - times["t0"]
    result["smtp_transaction_s"] = times["t250"] - times["t0"]
    m.logout()
    print(json.dumps(result))


def concurrent(n):
    barrier = threading.Barrier(n + 1)
    errors = []
    counts = []

    def client():
        try:
            barrier.wait()
            m = imaplib.IMAP4_SSL(HOST, int(os.environ["IMAPS_PORT"]), ssl_context=ctx())
            m.login(USER, PASS)
            ok(m.select("INBOX", readonly=True))
            data = ok(m.fetch("1:*", "(FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])"))
            counts.append(len([d for d in data if isinstance(d, tuple)]))
            m.logout()
        except Exception as e:  # reported to the Go test
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.time()
    for t in threads:
        t.join()
    print(json.dumps({"seconds": time.time() - t0, "errors": errors, "counts": counts}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "full":
        full()
    elif mode == "idle":
        idle()
    elif mode == "concurrent":
        concurrent(int(sys.argv[2]))
    else:
        sys.exit("unknown mode " + mode)
