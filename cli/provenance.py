"""CLI for provenance: ``sign``, ``verify`` and ``edit trim|concat`` (thin over the library)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import click

from vidprov.cli._util import OUT_FILE, PATH, RAW_PATH, emit, folder_name, p_text
from vidprov.errors import ProvenanceError, printable
from vidprov.provenance.signer import CallbackSigner
from vidprov.provenance.verify import is_credential_failure

_key_file = click.option("--key-file", type=PATH, help="Watermark key (default: home).")
_cert = click.option("--cert", type=PATH, help="Signer chain PEM (leaf first).")
_key = click.option("--key", type=PATH, help="Signer private key PEM.")
_tsa = click.option(
    "--tsa-url", envvar="VIDPROV_TSA_URL", help="RFC 3161 timestamp authority (off by default)."
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _signer(cert: Path | None, key: Path | None) -> CallbackSigner | None:
    """The signer given by --cert/--key; None (the home signer, loaded by the library once the
    input has been checked, so a missing clip is reported before missing keys) without them."""
    from vidprov.provenance import load_signer

    if (cert is None) != (key is None):  # a command-line mistake, said as one
        raise click.UsageError("give both --cert and --key, or neither")
    return load_signer(cert, key) if cert is not None or key is not None else None


def _wm_key(key_file: Path | None) -> bytes | None:
    from vidprov.keys import load_watermark_key

    return load_watermark_key(key_file) if key_file is not None else None


def _p(value: Any) -> str:
    """A field for a human line: control characters escaped, so a signer's name or a file name
    from a manifest cannot start a line of its own (a forged "c2pa: TRUSTED")."""
    return printable(str(value))


# the library's reason, in the CLI's words: "not asked for" is what the flag did
_NOTE_SHOWN = {"not asked for": "--no-soft-binding"}


def _sign_human(r: Any) -> str:
    lines = [
        f"signed {_p(r.output)}",
        f"manifest {_p(r.manifest_id)} (signer {_p(r.signer)}, {r.alg})",
    ]
    lines.append(
        f"soft binding: {len(r.soft_binding)} marked time block(s), "
        f"payloads {', '.join(r.payloads)}"
        if r.soft_binding
        else f"soft binding: none ({_NOTE_SHOWN.get(r.soft_binding_note, r.soft_binding_note)})"
    )
    if not r.timestamped:
        lines.append("no timestamp authority: certificate validity is checked at verification time")
    return "\n".join(lines)


@click.command()
@click.argument("src", type=PATH)
@click.argument("dst", type=OUT_FILE)
@click.option("--title", help="Asset title (default: the output file name).")
@click.option("--ai/--no-ai", default=True, show_default=True, help="Made by a model.")
@click.option("--model", help="Name of the generating model.")
@click.option("--prompt", help="The prompt; only its SHA-256 goes into the manifest.")
@click.option(
    "--prompt-hash", help="SHA-256 hex of the prompt, if hashed elsewhere (not with --prompt)."
)
@click.option("--no-soft-binding", is_flag=True, help="Do not bind the watermark payload.")
@_cert
@_key
@_tsa
@_key_file
@_json
def sign(
    src: Path,
    dst: Path,
    title: str | None,
    ai: bool,
    model: str | None,
    prompt: str | None,
    prompt_hash: str | None,
    no_soft_binding: bool,
    cert: Path | None,
    key: Path | None,
    tsa_url: str | None,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Write DST: SRC with a signed C2PA manifest (stored in the manifest store)."""
    from vidprov.provenance import SignOptions, sign_file

    if prompt is not None and prompt_hash is not None:  # one would be silently dropped
        raise click.UsageError("--prompt and --prompt-hash are alternatives: give one")
    if prompt is not None:
        prompt_hash = hashlib.sha256(prompt.encode()).hexdigest()
    try:
        options = SignOptions(
            title=title,
            ai=ai,
            model=model,
            prompt_sha256=prompt_hash,
            soft_binding="none" if no_soft_binding else "detect",
            tsa_url=tsa_url or None,
        )
    except ProvenanceError as exc:  # of the options given here, it checks the prompt hash
        raise click.BadParameter(exc.message, param_hint="--prompt-hash") from exc
    r = sign_file(src, dst, options, _signer(cert, key), key=_wm_key(key_file))
    emit(r, as_json, _sign_human(r))


def _ingredient_line(i: dict[str, Any]) -> str:
    """An ingredient, with what the editor's c2pa found when it added it: a broken manifest,
    or a signer its trust anchors did not vouch for (not the same thing)."""
    fails = [str(f) for f in i.get("failures") or ()]
    credential = [f for f in fails if is_credential_failure(f)]
    broken = [f for f in fails if f not in credential]
    line = (
        f"  ingredient {_p(i['relationship'])}: {_p(i['title'])} "
        f"({_p(i['manifest_id'] or 'no manifest')})"
    )
    if broken:
        line += f"; its manifest failed: {_p(', '.join(broken))}"
    if credential:
        line += f"; its signer was not vouched for when it was added: {_p(', '.join(credential))}"
    return line


def verify_human(r: Any) -> str:
    c = r.c2pa
    lines = [f"file: {_p(r.file)}", f"c2pa: {c.state.upper()}"]
    if c.manifest_id:
        org = f" (organization {_p(c.organization)})" if c.organization else ""
        lines += [
            f"  manifest {_p(c.manifest_id)}",
            f"  signer {_p(c.signer)}{org}, signed {_p(c.signed_at)} ({c.signed_at_source})",
            f"  generator {_p(c.claim_generator)}; "
            f"source type {_p(c.digital_source_type or 'not declared')}",
            f"  actions: {', '.join(_p(a.get('action')) for a in c.actions)}",
        ]
        lines += [_ingredient_line(i) for i in c.ingredients]
        if c.composition:
            lines.append(
                "  composition: "
                + ", ".join(f"{p.start:.2f}-{p.end:.2f} s {p.kind}" for p in c.composition)
            )
    if c.failures:  # only invalid and valid reports carry any
        lines.append(f"  failed: {_p(', '.join(c.failures))}")
    elif c.state == "absent":
        lines.append(f"  codes: {_p(', '.join(c.codes))}")
    if c.note:
        lines.append(f"  note: {_p(c.note)}")
    w = r.watermark
    if w is None:
        lines.append(f"watermark: {r.watermark_note or 'not checked'}")
    else:
        lines.append(
            f"watermark: {'yes' if w.detected else 'no'}  payload {w.payload or '-'}  "
            f"p {p_text(w.p_value)}"
        )
    if r.recovered:
        rec = r.recovered
        lines.append(
            f"recovered via watermark: manifest {_p(rec.manifest_id)} "
            f"(describes the original clip; content matches: {rec.content_matches}; "
            f"signer {'trusted' if rec.trusted else 'not trusted'})"
        )
        if rec.ties:  # two trims of one clip of the same length, say
            lines.append(
                f"  {len(rec.ties)} other stored manifest(s) fit the mark as well, so which "
                f"edit this copy comes from is not certain (the oldest is shown): "
                + ", ".join(map(_p, rec.ties))
            )
    lines += [f"conflict: {_p(x)}" for x in r.conflicts]
    lines.append(f"origin established: {'yes' if r.established else 'no'}")
    if r.unvouched_origin:
        lines.append("  (a source in its lineage was signed by a signer not vouched for)")
    return "\n".join(lines)


@click.command()
@click.argument("src", type=PATH)
@click.option(
    "--trust-anchors",
    type=PATH,
    help="PEM of trusted roots (default: VIDPROV_HOME/trust_anchors.pem if present).",
)
@click.option("--no-watermark", is_flag=True, help="Skip watermark detection and recovery.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 unless the origin is established: a trusted manifest, or none and a trusted "
    "one recovered through the watermark, with no conflict.",
)
@_key_file
@_json
def verify(
    src: Path,
    trust_anchors: Path | None,
    no_watermark: bool,
    strict: bool,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Verify SRC: its C2PA manifest, its watermark, and recovery through the watermark."""
    from vidprov.provenance import verify_file

    r = verify_file(src, trust_anchors, watermark=not no_watermark, key=_wm_key(key_file))
    emit(r, as_json, verify_human(r))
    if strict and not r.established:
        sys.exit(1)


@click.group()
def edit() -> None:
    """Edit signed clips, keeping lineage (sources become ingredients)."""


@edit.command("trim")
@click.argument("src", type=PATH)
@click.argument("dst", type=OUT_FILE)
@click.option("--start", type=float, required=True, help="Start, seconds.")
@click.option("--end", type=float, required=True, help="End, seconds.")
@_cert
@_key
@_key_file
@_json
def edit_trim(
    src: Path,
    dst: Path,
    start: float,
    end: float,
    cert: Path | None,
    key: Path | None,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Write DST: SRC from START to END, signed with SRC as its parent."""
    from vidprov.provenance import trim_file

    r = trim_file(src, dst, start, end, _signer(cert, key), key=_wm_key(key_file))
    emit(r, as_json, _sign_human(r))


@edit.command("concat")
@click.argument("paths", nargs=-1, required=True, type=RAW_PATH)
@_cert
@_key
@_key_file
@_json
def edit_concat(
    paths: tuple[str, ...],
    cert: Path | None,
    key: Path | None,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Concatenate the clips in PATHS (two or more) into the last of them, signed with each
    source as a component."""
    from vidprov.provenance import concat_files

    if len(paths) < 3:
        raise click.UsageError("concat needs at least two sources and an output: A B [...] OUT")
    *srcs, dst = paths
    if problem := folder_name(dst):
        raise click.UsageError(problem)
    r = concat_files([Path(s) for s in srcs], Path(dst), _signer(cert, key), key=_wm_key(key_file))
    emit(r, as_json, _sign_human(r))
