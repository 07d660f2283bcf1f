"""Provisioned admin startup kits: find them, read ``fed_admin.json``, and check them before connecting.

``check_kit`` inspects a kit with ``cryptography`` (files present, ``fed_admin.json`` readable, certificates valid
now and signed by the kit's root CA, private key matching the certificate and private to its owner, identity) and
reports one row per check, so a broken kit is refused with one clear line before any network call.

Pure: no IPython, no network (the chain is also put through NVFlare's own path validation where the installed
release has one). The private key is only ever loaded by ``cryptography`` to compare its public half with the
certificate's: its bytes are never shown, logged or put into an exception message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import socket
from pathlib import Path

import pandas as pd
import psutil
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from . import compat
from .errors import FlareError
from .policy import certificate_identity, identity_of

KIT_ENV_VAR = "FLARE_STARTUP_KIT"
#: A certificate that ends within this many days gives a warning.
EXPIRY_WARNING_DAYS = 30
#: The files NVFlare reads from ``startup/``: fed_admin.json's key for each, and the name a provisioned kit uses.
CERT_FILES = {"client_cert": "client.crt", "client_key": "client.key", "ca_cert": "rootCA.pem"}
LEVELS = pd.CategoricalDtype(["ok", "warning", "error"], ordered=True)
REPROVISION = "re-provision this admin's kit (or copy its complete startup folder again)"

log = logging.getLogger("flare_jupyter.kit")

#: Where the running embedded system's admin kit is, if one runs: ``poc`` registers it (``use_embedded_kit``), so
#: this module needs nothing above it to find it.
_embedded_kit = None


def resolve_kit(path: str | os.PathLike) -> Path:
    """The kit's root folder (the one holding ``startup/fed_admin.json``), given it or its ``startup`` folder."""
    p = _usable_path(path)
    if not p.exists():
        raise FlareError(
            f"startup kit folder {_shown(path)} does not exist: give the admin kit folder that holds startup/"
        )
    if not p.is_dir():
        raise FlareError(f"startup kit {_shown(path)} is a file, not a folder: give the admin kit folder")
    if (p / "fed_admin.json").exists() and p.name == "startup":
        p = p.parent
    if not (p / "startup" / "fed_admin.json").exists():  # present but unreadable: check_kit says why
        raise FlareError(
            f"{_shown(path)} is not an admin startup kit: startup/fed_admin.json is missing "
            "(use the admin's folder from your provisioned project, e.g. prod_00/admin@nvidia.com)"
        )
    return p


def read_admin_config(kit: str | os.PathLike) -> dict:
    """The ``admin`` section of the kit's ``fed_admin.json``."""
    f = Path(kit) / "startup" / "fed_admin.json"
    try:
        data = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise FlareError(f"cannot read {f}: {e}") from None
    admin = data.get("admin") if isinstance(data, dict) else None
    if not isinstance(admin, dict):
        raise FlareError(f"{f} has no 'admin' section: re-provision the kit")
    return admin


def kit_identity(kit: str | os.PathLike) -> dict:
    """Common name, organisation and role from the kit's ``client.crt`` ({} when it cannot be read): who the
    server will take the user of this kit for."""
    who = identity_of(kit)
    return {"name": who.name, "org": who.org or None, "role": who.role or None} if who else {}


def admin_endpoint(kit: str | os.PathLike) -> tuple:
    """(host, admin port) of the server the kit names (either release's ``fed_admin.json`` shape)."""
    return compat.admin_endpoint(read_admin_config(kit))


def server_address(kit: str | os.PathLike) -> str:
    host, port = admin_endpoint(kit)
    return f"{host or '?'}:{port or '?'}"


def use_embedded_kit(kit_of_running_system) -> None:
    """Register how to find the running embedded system's admin kit: a callable answering its path or None."""
    global _embedded_kit
    _embedded_kit = kit_of_running_system


def embedded_kit() -> str | None:
    """The running embedded system's admin kit, or None."""
    return _embedded_kit() if _embedded_kit is not None else None


def default_kit(path: str | os.PathLike | None = None) -> tuple[str, str]:
    """The one rule for "which kit": ``path``, else ``$FLARE_STARTUP_KIT``, else the running embedded system's
    admin kit. Returns (kit, where it came from: "given", "environment" or "poc"); one clear line when none."""
    if path is not None:
        if not str(path).strip():  # a blank path is a mistake, never a request for another kit (identity)
            raise FlareError(
                "the startup kit path is empty: give the kit folder, or leave the kit out for the default "
                f"(${KIT_ENV_VAR}, else the embedded system's admin)"
            )
        return str(path), "given"
    if os.environ.get(KIT_ENV_VAR):
        return os.environ[KIT_ENV_VAR], "environment"
    kit = embedded_kit()
    if kit is None:
        raise FlareError(
            "no startup kit given: pass the admin kit folder (fj.connect(KIT)), set FLARE_STARTUP_KIT, "
            "or start the embedded system with fj.poc.start() (%flare poc start)"
        )
    return kit, "poc"


# -- checks --------------------------------------------------------------------------------------------------------
class _Report:
    """The rows of a kit check, in the order a user should fix them (the first error is the cause to fix)."""

    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, check: str, level: str, detail: str) -> None:
        self.rows.append((check, level, detail))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=["check", "level", "detail"])
        return pd.DataFrame(
            {
                "check": df["check"].astype("string"),
                "ok": (df["level"] == "ok").astype(bool),
                "level": df["level"].astype(LEVELS),
                "detail": df["detail"].astype("string"),
            }
        )


def check_kit(path: str | os.PathLike | None = None, secure: bool = True) -> pd.DataFrame:
    """Check an admin startup kit without connecting; one row per check: ``check``, ``ok``, ``level``, ``detail``.

    ``path`` defaults to ``$FLARE_STARTUP_KIT``, else the running embedded system's kit (``default_kit``).
    ``fj.connect`` runs the same checks first and refuses a kit with an error.

    ``level`` is "ok", "warning" (usable, but act soon: a certificate that expires within 30 days, a private key
    others can read) or "error" (NVFlare would fail: missing or unreadable files, malformed ``fed_admin.json``, a
    certificate expired or not yet valid or not signed by the kit's root CA, a private key that does not match the
    certificate). ``ok`` is True only for "ok" rows. With ``secure=False`` the certificate files are required only
    where NVFlare reads them for insecure sessions too (nvflare >= 2.7); those present are always checked, and a
    server that is not this machine is a warning (an insecure session's commands are neither encrypted nor
    authorized by the server). The identity rows are who the server will take the kit's user for.
    """
    report = _Report()
    kit = _kit_folder(default_kit(path)[0], report)
    if kit is not None:
        if secure:
            need = ""
        elif compat.INSECURE_SESSIONS_USE_CERTIFICATES:
            need = f"; nvflare {compat.NVFLARE_VERSION} reads it for insecure sessions too"
        else:
            need = None
        config = _check_config(kit / "startup", need is not None, report)
        _check_credentials(kit / "startup", config or {}, need, report)
        if not secure and config:
            _check_insecure_host(config, report)
    return report.frame()


def first_error(report: pd.DataFrame) -> str | None:
    """The detail of the report's first error (the one to fix first), or None when the kit is usable."""
    errors = report[report["level"] == "error"]
    return None if errors.empty else str(errors["detail"].iloc[0])


def ensure_usable(kit: str | os.PathLike, secure: bool = True) -> pd.DataFrame:
    """Check the kit; raise a one-line ``FlareError`` naming its first error and the fix; log warnings at INFO."""
    report = check_kit(kit, secure)
    for row in report[report["level"] == "warning"].itertuples():
        log.info("startup kit %s: %s", kit, row.detail)
    problem = first_error(report)
    if problem:
        raise FlareError(f"startup kit {kit}: {problem}")
    return report


def _shown(path) -> str:
    """A path as it may appear in a one-line message: control characters escaped, long ones cut."""
    text = repr(str(path))
    return text if len(text) <= 120 else text[:100] + "...'" + f" ({len(str(path))} characters)"


def _usable_path(path) -> Path:
    """``path`` expanded and resolved; a path the system cannot even look up is a one-line error."""
    try:
        p = Path(os.path.expanduser(str(path))).resolve()
        p.exists()
        return p
    except (ValueError, OSError) as e:
        reason = "it holds a NUL character" if isinstance(e, ValueError) else (e.strerror or type(e).__name__)
        raise FlareError(f"startup kit path {_shown(path)} cannot be used: {reason}") from None


def _kit_folder(path, report: _Report) -> Path | None:
    p = _usable_path(path)  # a path the system cannot look up is no kit to report on: one line
    if not p.is_dir():
        what = "is a file, not a folder" if p.exists() else "does not exist"
        report.add("kit folder", "error", f"{p} {what}: give the admin kit folder that holds startup/")
        return None
    if p.name == "startup" and (p / "fed_admin.json").exists():
        p = p.parent
    report.add("kit folder", "ok", str(p))
    return p


def _check_config(startup: Path, certs_needed: bool, report: _Report) -> dict | None:
    """Check fed_admin.json; returns its admin section when it is usable."""
    f = startup / "fed_admin.json"

    def error(problem: str) -> None:
        report.add("fed_admin.json", "error", f"fed_admin.json {problem}: {REPROVISION}")

    if not f.exists():
        why = f"fed_admin.json is missing ({f}): this is not an admin startup kit"
        report.add("fed_admin.json", "error", f"{why}: use the admin's folder of your provisioned project")
        return None
    try:
        text = f.read_bytes()
        data = json.loads(text) if text.strip() else None
    except OSError as e:
        return error(f"cannot be read ({e.strerror or type(e).__name__})")
    except ValueError as e:  # its position message ("Expecting value: line 1 column 1"), never the content
        return error(f"is not valid JSON ({str(e)[:100]})")
    if not text.strip():
        return error("is empty")
    admin = data.get("admin") if isinstance(data, dict) else None
    if not isinstance(admin, dict):
        return error("has no 'admin' section")
    missing = [k for k in ["download_dir", *(CERT_FILES if certs_needed else [])] if not admin.get(k)]
    if not admin.get("overseer_agent"):  # the server: host and port, or (up to nvflare 2.5) an overseer agent
        missing += [k for k in ("host", "port") if admin.get(k) in (None, "")]
    if missing:
        return error("lacks " + ", ".join(f"admin.{k}" for k in missing))
    port = admin.get("port")
    if port is not None and (isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536):
        return error(f"has admin.port {port!r}, which is not a port number")
    if any(not isinstance(admin.get(k, ""), str) for k in CERT_FILES):
        return error("names its certificate files with values that are not text")
    try:
        sp = admin["overseer_agent"]["args"]["sp_end_point"]
    except (KeyError, TypeError):
        sp = None
    host = admin.get("host")
    where = f"server {host}:{port}" if host and port is not None else f"server {sp or '?'} (from the overseer agent)"
    security = admin.get("connection_security")
    report.add("fed_admin.json", "ok", where + (f", connection {security}" if security else ""))
    return admin


def _check_credentials(startup: Path, config: dict, need: str | None, report: _Report) -> None:
    """``need``: None when the certificate files are optional, else why they are required ("" for secure)."""
    files = {k: startup / (config.get(k) or default) for k, default in CERT_FILES.items()}
    crt, key, ca = (files[k].name for k in CERT_FILES)
    cert = _load(files["client_cert"], _load_cert, "certificate", need, report)
    private_key = _load(files["client_key"], _load_private_key, "private key", need, report)
    root = _load(files["ca_cert"], _load_cert, "root CA certificate", need, report)
    in_time = True
    if cert is not None:
        _check_identity(cert, crt, report)
        in_time &= _check_validity(cert, crt, "certificate validity", report)
    if root is not None:
        in_time &= _check_validity(root, ca, "root CA validity", report)
    if cert is not None and root is not None:
        _check_chain(cert, root, crt, ca, in_time, report)
    if cert is not None and private_key is not None:
        _check_key_match(cert, private_key, crt, key, report)
    if private_key is not None:
        _check_key_permissions(files["client_key"], report)


def _load(f: Path, loader, what: str, need: str | None, report: _Report):
    """Load one credential file with ``loader``; a row saying it is present and readable, or what is wrong."""
    name = f.name
    if not f.exists():
        if need is None:
            report.add(name, "ok", f"absent: not needed for an insecure session ({f})")
        else:
            report.add(name, "error", f"{name} is missing ({f}){need}: {REPROVISION}")
        return None
    try:
        data = f.read_bytes()
    except OSError as e:
        report.add(name, "error", f"{name} cannot be read ({e.strerror or type(e).__name__}): {REPROVISION}")
        return None
    obj, problem = loader(data)
    del data
    if problem:
        report.add(name, "error", f"{name} {problem}: {REPROVISION}")
        return None
    report.add(name, "ok", f"{what}: {_describe(obj)}")
    return obj


def _load_cert(data: bytes):
    """(certificate, None) or (None, what is wrong)."""
    try:
        return x509.load_pem_x509_certificate(data), None
    except Exception:
        return None, "is not a PEM certificate"


def _load_private_key(data: bytes):
    """(private key, None) or (None, what is wrong): never a message built from the key's bytes (not even
    cryptography's), so nothing of them can reach a report, a log or a traceback."""
    try:
        return serialization.load_pem_private_key(data, password=None), None
    except TypeError:
        return None, "is protected by a passphrase, which NVFlare cannot use"
    except Exception:
        return None, "is not a PEM private key"


def _describe(obj) -> str:
    """What a loaded certificate or key is, without anything secret: subject and issuer, or algorithm and size."""
    if isinstance(obj, x509.Certificate):
        return f"{_name(obj.subject)}, issued by {_name(obj.issuer)}"
    if isinstance(obj, rsa.RSAPrivateKey):
        return f"RSA {obj.key_size}-bit (content not shown)"
    if isinstance(obj, ec.EllipticCurvePrivateKey):
        return f"EC {obj.curve.name} (content not shown)"
    return f"{type(obj).__name__.lstrip('_')} (content not shown)"


def _name(name) -> str:
    """A certificate name as 'CN=..., O=..., role=...' (NVFlare keeps the role in UNSTRUCTURED_NAME)."""

    def label(attr) -> str:
        return "role" if attr.oid == NameOID.UNSTRUCTURED_NAME else attr.rfc4514_attribute_name

    return ", ".join(f"{label(a)}={a.value}" for a in name) or "(empty name)"


def _check_identity(cert, crt: str, report: _Report) -> None:
    ident = certificate_identity(cert)
    if ident["name"]:
        report.add("identity: name", "ok", ident["name"])
    else:
        why = f"{crt} has no common name (CN), which NVFlare takes as the user name: {REPROVISION}"
        report.add("identity: name", "error", why)
    report.add("identity: org", "ok", ident["org"] or "(none)")
    report.add("identity: role", "ok", ident["role"] or "(none)")


def this_machine(host) -> bool:
    """Whether ``host`` (a kit's server) names this machine: localhost, a loopback address, this machine's host name
    or one of its interfaces' addresses. Decided from the name alone (no DNS lookup: checks make no network call)."""
    name = str(host or "").strip().strip("[]").lower()
    if name in ("localhost", "localhost.localdomain", socket.gethostname().lower()):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified:
        return True
    own = {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs}
    return str(address) in own


def _check_insecure_host(config: dict, report: _Report) -> None:
    host, port = compat.admin_endpoint(config)
    if this_machine(host):
        report.add("insecure session", "ok", f"the server ({host}) is this machine: nothing crosses the network")
        return
    why = f"an insecure session talks to {host}:{port}, which is not this machine, unencrypted and unauthorized"
    report.add("insecure session", "warning", f"{why}: connect securely (the default) to a server elsewhere")


def _check_validity(cert, file_name: str, check: str, report: _Report) -> bool:
    """Add the validity row; False when the certificate is not valid now."""
    utc = dt.timezone.utc
    start = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=utc)
    end = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=utc)
    now = dt.datetime.now(utc)
    left = (end - now).days
    if now < start:
        why = f"{file_name} is not valid yet (from {_when(start)}; now {_when(now)})"
        report.add(check, "error", f"{why}: check this machine's clock, or {REPROVISION}")
        return False
    if now >= end:
        why = f"{file_name} expired on {_when(end)}"
        report.add(check, "error", f"{why}: ask your project admin for a newly provisioned kit")
        return False
    if end - now < dt.timedelta(days=EXPIRY_WARNING_DAYS):
        why = f"{file_name} expires in {left} day{'' if left == 1 else 's'} (on {_when(end)})"
        report.add(check, "warning", f"{why}: ask your project admin for a renewed kit before then")
    else:
        report.add(check, "ok", f"{file_name} valid until {_when(end)} ({left} days left)")
    return True


def _when(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _check_chain(cert, root, crt: str, ca: str, in_time: bool, report: _Report) -> None:
    """The root CA signed the certificate; and (when both are valid now) the chain passes NVFlare's own path
    validation, which nvflare >= 2.9 runs before connecting (it also wants the CA's key-usage extensions)."""
    try:
        cert.verify_directly_issued_by(root)
    except Exception:
        if cert.issuer == root.subject:
            why = f"{crt} names {ca}'s CA ({_name(root.subject)}) as its issuer, but that CA did not sign it"
        else:
            why = f"{crt} was issued by {_name(cert.issuer)}, not by the kit's root CA {ca} ({_name(root.subject)})"
        report.add("signed by root CA", "error", f"{why}: the files come from different provisionings: {REPROVISION}")
        return
    if in_time and compat.verify_cert_chain is not None:  # older NVFlare releases do not validate the path
        try:
            compat.verify_cert_chain(leaf_cert=cert, intermediate_certs=[], root_ca_cert=root)
        except Exception as e:  # cryptography's reason names an extension or a constraint, nothing secret
            why = f"{crt} is signed by {ca}, but nvflare {compat.NVFLARE_VERSION} rejects the chain ({str(e)[:160]})"
            report.add("signed by root CA", "error", f"{why}: {REPROVISION}")
            return
    report.add("signed by root CA", "ok", f"{crt} is signed by {ca} ({_name(root.subject)})")


def _check_key_match(cert, private_key, crt: str, key: str, report: _Report) -> None:
    def spki(public_key) -> bytes:
        return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)

    try:
        same = spki(private_key.public_key()) == spki(cert.public_key())
    except Exception:
        same = False
    if same:
        report.add("key matches certificate", "ok", f"{key} is the private key of {crt}")
    else:
        report.add("key matches certificate", "error", f"{key} does not match {crt}: {REPROVISION}")


def _check_key_permissions(f: Path, report: _Report) -> None:
    if os.name == "nt":
        report.add("key permissions", "ok", "not checked on Windows")
        return
    mode = f.stat().st_mode & 0o777
    who = [w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits]
    if who:
        why = f"{f.name} is open to {' and '.join(who)} (mode {mode:04o})"
        report.add("key permissions", "warning", f"{why}: run chmod 600 {f}")
    else:
        report.add("key permissions", "ok", f"{f.name} is private to its owner (mode {mode:04o})")
