"""Recovery through the watermark is checked like an embedded manifest: against the trust
anchors, and against the manifest embedded in the clip (re-signing over our mark is a
conflict, not an established origin). Edits record an untrusted source's signer."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.provenance.conftest import issue_leaf
from vidprov.errors import MediaError, ProvenanceError
from vidprov.keys import load_watermark_key
from vidprov.media import EncodeOptions, transcode
from vidprov.provenance import (
    SignOptions,
    SignResult,
    create_dev_pki,
    load_signer,
    sign_file,
    trim_file,
    verify_file,
)
from vidprov.provenance.pki import PkiPaths
from vidprov.provenance.store import STORE_FILE
from vidprov.watermark import embed_file

OTHER_PAYLOAD = "aabbccddeeff0011"


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    """Another organisation's signer, which the home trust anchors do not hold."""
    home = tmp_path_factory.mktemp("other")
    create_dev_pki(home, org="Other Org")
    return PkiPaths.under(home)


@pytest.fixture(scope="module")
def stripped(signed: SignResult, workdir: Path) -> Path:
    """The signed clip re-encoded: its manifest gone, its mark kept."""
    return _reencode(signed.output, workdir / "stripped.mp4")


@pytest.fixture(scope="module")
def both(keyed_home: Path, other_pki: PkiPaths, workdir: Path) -> Path:
    """Trust anchors holding our root and the other organisation's."""
    path = workdir / "both.pem"
    path.write_text(
        (keyed_home / "trust_anchors.pem").read_text() + other_pki.trust_anchors.read_text()
    )
    return path


def _reencode(src: str | Path, dst: Path) -> Path:
    transcode(src, dst, EncodeOptions(crf=28))  # the manifest is not carried over
    return dst


def _resign(stripped: Path, dst: Path, other_pki: PkiPaths, ai: bool) -> SignResult:
    """``stripped`` signed by the other organisation, which does not hold our watermark key
    (so its sign does not see the mark), claiming AI content or camera capture."""
    signer = load_signer(other_pki.signer_chain, other_pki.signer_key)
    return sign_file(stripped, dst, SignOptions(ai=ai), signer, key=os.urandom(32))


def test_resigning_over_our_mark_is_a_conflict(
    env_home: Path,
    signed: SignResult,
    stripped: Path,
    both: Path,
    other_pki: PkiPaths,
    tmp_path: Path,
) -> None:
    relabeled = _resign(stripped, tmp_path / "relabeled.mp4", other_pki, ai=False).output
    r = verify_file(relabeled, both)
    assert r.c2pa.state == "trusted" and r.c2pa.organization == "Other Org"
    assert r.recovered is not None and r.recovered.manifest_id == signed.manifest_id
    assert r.recovered.trusted
    assert len(r.conflicts) == 1 and signed.manifest_id in r.conflicts[0]
    assert not r.established and r.to_dict()["conflicts"] == list(r.conflicts)
    # a scan lists it among its conflicts too (its verdict comes from the mark and the claim)
    from vidprov.detector.scan import scan_file

    v = scan_file(relabeled, classifier=False, trust_anchors=both)
    assert r.conflicts[0] in v.conflicts
    # our own edit of it would name the payload in its manifest and hide the conflict: refused
    with pytest.raises(ProvenanceError, match="signed again over a marked, generated clip"):
        trim_file(relabeled, tmp_path / "laundered.mp4", 0.0, 1.0)
    assert not (tmp_path / "laundered.mp4").exists()
    # its own signed clip: the embedded manifest names the stored one, so nothing to report
    own = verify_file(signed.output)
    assert own.recovered is None and own.conflicts == () and own.established


def test_a_resigned_clip_that_declares_ai_is_no_conflict(
    env_home: Path,
    signed: SignResult,
    stripped: Path,
    both: Path,
    other_pki: PkiPaths,
    tmp_path: Path,
) -> None:
    """Another home (or an honest re-signer without our key) cannot name our manifest; when
    its manifest declares AI content it agrees with our mark."""
    resigned = _resign(stripped, tmp_path / "resigned.mp4", other_pki, ai=True)
    r = verify_file(resigned.output, both)
    assert r.c2pa.state == "trusted" and r.conflicts == () and r.established
    assert r.recovered is not None and r.recovered.manifest_id == signed.manifest_id


def test_recovery_from_a_container_c2pa_does_not_read_is_trusted(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    """Our clip re-wrapped as Matroska: no binding can match, but the stored manifest's signer
    is checked on its own, so the origin is still established."""
    mkv = _reencode(signed.output, tmp_path / "rewrapped.mkv")
    r = verify_file(mkv)
    assert r.c2pa.state == "absent" and r.recovered is not None
    assert r.recovered.trusted and not r.recovered.content_matches and r.established


def test_recovered_manifest_from_an_untrusted_signer_is_not_established(
    env_home: Path, marked: Path, both: Path, other_pki: PkiPaths, tmp_path: Path
) -> None:
    key = load_watermark_key(env_home / "watermark.key")
    theirs = tmp_path / "m.mp4"
    embed_file(marked.with_name("src.mp4"), theirs, key, OTHER_PAYLOAD)
    signed = sign_file(
        theirs,
        tmp_path / "theirs.mp4",
        signer=load_signer(other_pki.signer_chain, other_pki.signer_key),
    )
    theirs_stripped = _reencode(signed.output, tmp_path / "stripped.mp4")
    r = verify_file(theirs_stripped)
    assert r.c2pa.state == "absent"
    assert r.recovered is not None and r.recovered.manifest_id == signed.manifest_id
    assert not r.recovered.trusted and not r.established
    # with their root among the anchors, the same recovery establishes the origin
    r = verify_file(theirs_stripped, both)
    assert r.recovered is not None and r.recovered.trusted and r.established


def test_edit_records_an_untrusted_source(
    env_home: Path,
    signed: SignResult,
    stripped: Path,
    other_pki: PkiPaths,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    theirs = sign_file(
        stripped,
        tmp_path / "theirs.mp4",
        signer=load_signer(other_pki.signer_chain, other_pki.signer_key),
    )
    trim = trim_file(theirs.output, tmp_path / "trim.mp4", 0.0, 1.5)
    r = verify_file(trim.output, watermark=False)
    assert r.c2pa.state == "trusted"  # we signed the trim
    (ing,) = r.c2pa.ingredients
    assert ing["failures"] == ["signingCredential.untrusted"]
    # ... which vouches for the trim, not for the origin it inherits (it was established),
    # nor does a trim of the trim
    again = trim_file(trim.output, tmp_path / "again.mp4", 0.0, 1.0)
    assert not r.established and not verify_file(again.output, watermark=False).established
    assert "not vouched for" in caplog.text
    from vidprov.cli.provenance import verify_human

    text = verify_human(r)  # an unvouched signer is not a broken manifest
    assert "its signer was not vouched for when it was added: signingCredential.untrusted" in text
    assert "its manifest failed" not in text
    ours = trim_file(signed.output, tmp_path / "ours.mp4", 0.0, 1.5)
    r = verify_file(ours.output, watermark=False)
    (ing,) = r.c2pa.ingredients
    assert ing["failures"] == [] and r.established


def test_a_recovered_edit_of_an_untrusted_source_does_not_establish(
    env_home: Path, stripped: Path, other_pki: PkiPaths, tmp_path: Path
) -> None:
    """The lineage rule held for an embedded manifest only: with the trim's manifest stripped,
    recovering it through the watermark established the origin its source's signer claimed."""
    theirs = sign_file(
        stripped,
        tmp_path / "theirs.mp4",
        signer=load_signer(other_pki.signer_chain, other_pki.signer_key),
    )
    trim = trim_file(theirs.output, tmp_path / "trim.mp4", 0.5, 2.5)  # 2 s: no other's length
    r = verify_file(_reencode(trim.output, tmp_path / "trim-stripped.mp4"))
    assert r.c2pa.state == "absent" and r.recovered is not None
    assert r.recovered.manifest_id == trim.manifest_id and r.recovered.trusted
    assert r.recovered.unvouched_lineage and not r.established
    assert r.to_dict()["recovered"]["unvouched_lineage"] is True
    from vidprov.cli.provenance import verify_human

    assert "signed by a signer not vouched for" in verify_human(r)


@pytest.mark.parametrize("damage", ["dangling", "indented"])
def test_anchors_c2pa_cannot_parse_are_refused(
    env_home: Path, signed: SignResult, tmp_path: Path, damage: str
) -> None:
    pem = (env_home / "trust_anchors.pem").read_text()
    bad = tmp_path / "bad.pem"
    if damage == "dangling":
        bad.write_text(pem + "-----BEGIN CERTIFICATE-----\n")
    else:
        bad.write_text("".join("  " + line for line in pem.splitlines(keepends=True)))
    with pytest.raises(ProvenanceError, match="C2PA cannot read them") as err:
        verify_file(signed.output, bad)
    assert err.value.path == str(bad)


def test_verify_never_creates_a_store(
    marked: Path, keyed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "verifier"
    home.mkdir()
    (home / "watermark.key").write_bytes((keyed_home / "watermark.key").read_bytes())
    monkeypatch.setenv("VIDPROV_HOME", str(home))
    r = verify_file(marked)
    assert r.watermark is not None and r.watermark.detected and r.recovered is None
    assert not (home / STORE_FILE).exists()


def test_expired_signer_is_valid_not_invalid(
    env_home: Path, marked: Path, other_pki: PkiPaths, tmp_path: Path
) -> None:
    """A signer whose certificate ran out after signing (no timestamp) is not vouched for, but
    nothing was altered: ``valid``, not the ``invalid`` of a tampered clip."""
    chain, pkey = issue_leaf(other_pki, tmp_path, lifetime=dt.timedelta(seconds=4))
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)
    out = sign_file(marked, tmp_path / "short.mp4", signer=load_signer(chain, pkey))
    time.sleep(max(0.0, (ends - dt.datetime.now(dt.UTC)).total_seconds()) + 1.5)
    r = verify_file(out.output, other_pki.trust_anchors, watermark=False)
    assert "signingCredential.expired" in r.c2pa.failures
    assert r.c2pa.state == "valid" and r.c2pa.tampered == () and not r.established


def test_sign_refuses_a_fifo_instead_of_waiting(env_home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)

    def unblock() -> None:  # were the FIFO opened, this writer would let the test end
        time.sleep(10)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader: nothing to unblock
            return
        os.close(fd)

    threading.Thread(target=unblock, daemon=True).start()
    with pytest.raises(MediaError, match="not a regular file"):
        sign_file(fifo, tmp_path / "out.mp4")


def test_cli_escapes_manifest_fields(env_home: Path, marked: Path, tmp_path: Path) -> None:
    """A signer's organization with a newline cannot forge a line of the report."""
    home = tmp_path / "forger"
    create_dev_pki(home, org="Acme\nc2pa: TRUSTED")
    pki = PkiPaths.under(home)
    out = sign_file(
        marked,
        tmp_path / "forged.mp4",
        signer=load_signer(pki.signer_chain, pki.signer_key),
    )
    p = run("verify", str(out.output), "--no-watermark", env={"VIDPROV_HOME": str(env_home)})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert [line for line in lines if line.startswith("c2pa:")] == ["c2pa: VALID"]
    assert any("Acme\\nc2pa: TRUSTED" in line for line in lines)
