#!/usr/bin/env python3
"""Writes the tiny checked-in seed inputs of the fuzz targets (run once; the
outputs are committed). Signatures are dummies: the fuzzed parsers check
structure, not trust."""
import base64, hashlib, io, json, os, struct, tarfile

here = os.path.dirname(os.path.abspath(__file__))

def event(kind, payload, form=None, seq=1):
    return {
        "id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f6%d" % seq,
        "case_id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f60",
        "device_id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f61",
        "device_seq": seq,
        "hlc": {"millis": 1767225600000 + seq, "counter": 0},
        "author": "amina",
        "role": "caseworker",
        "kind": kind,
        "form": form,
        "payload": payload,
        "base": [],
        "sig": base64.b64encode(bytes(64)).decode(),
    }

events = [
    event("case.registered", {"case_type": "uasc", "case_number": "AGZ-2026-00001", "office": "Agadez"}, seq=1),
    event("form.saved", {"values": {"child_name": "X"}}, form="registration_bia", seq=2),
    event("status.changed", {"to": "registered", "reason": "seed"}, seq=3),
]
def write(target, name, data):
    with open(os.path.join(here, target, name), "wb") as f:
        f.write(data)

for i, e in enumerate(events):
    write("event_json", "event%d.json" % i, json.dumps(e).encode())

jsonl = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)
manifest = {
    "format": "fieldcase-bundle", "version": [1, 0],
    "bundle_id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f70", "kind": "device_to_office",
    "sender": {"device_id": events[0]["device_id"], "name": "d", "signing_key": "00" * 32, "recipient": "age1x"},
    "recipients": ["age1x"], "office_id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f71",
    "created_hlc": {"millis": 1767225600010, "counter": 0}, "sender_seq": 1, "prev_bundle_sha256": None,
    "members": [{"path": "events.jsonl", "sha256": hashlib.sha256(jsonl).hexdigest(), "size": len(jsonl)}],
    "counts": {"events": 3, "cases": 1, "attachments": 0},
}
mbytes = json.dumps(manifest, indent=1).encode()
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in [("manifest.json", mbytes), ("manifest.sig", base64.b64encode(bytes(64))), ("events.jsonl", jsonl)]:
        info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o600; info.mtime = 0
        t.addfile(info, io.BytesIO(data))
write("bundle_archive", "valid.tar", buf.getvalue())

payload = json.dumps({"generation": 1, "seq": 1, "prev_sha256": "00" * 32, "entries": [{"put": "k", "value": "v"}]}).encode()
journal = b"FCJRNL01" + struct.pack(">Q", 1)
for n in (120, 300):
    journal += struct.pack(">I", n) + b"age-encryption.org/v1\n".ljust(n, b"\0")
write("journal_frame", "two_frames.bin", journal)
write("journal_frame", "payload.json", payload)
