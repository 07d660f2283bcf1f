"""Provisioned admin startup kits: find them, read ``fed_admin.json`` and the identity in ``client.crt``.

Pure: no IPython, no network. The private key is never read here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import FlareError

KIT_ENV_VAR = "FLARE_STARTUP_KIT"


def resolve_kit(path: str | os.PathLike) -> Path:
    """The kit's root folder (the one holding ``startup/fed_admin.json``), given it or its ``startup`` folder."""
    p = Path(os.path.expanduser(str(path))).resolve()
    if not p.exists():
        raise FlareError(
            f"startup kit folder {str(path)!r} does not exist: give the admin kit folder that holds startup/"
        )
    if not p.is_dir():
        raise FlareError(f"startup kit {str(path)!r} is a file, not a folder: give the admin kit folder")
    if (p / "fed_admin.json").is_file() and p.name == "startup":
        p = p.parent
    if not (p / "startup" / "fed_admin.json").is_file():
        raise FlareError(
            f"{str(path)!r} is not an admin startup kit: startup/fed_admin.json is missing "
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
    """Common name, organisation and role from the kit's ``client.crt`` ({} when it cannot be read)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    crt = Path(kit) / "startup" / "client.crt"
    try:
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
    except (OSError, ValueError):
        return {}

    def first(oid):
        values = cert.subject.get_attributes_for_oid(oid)
        return values[0].value if values else None

    return {
        "name": first(NameOID.COMMON_NAME),
        "org": first(NameOID.ORGANIZATION_NAME),
        "role": first(NameOID.UNSTRUCTURED_NAME),
    }


def server_address(kit: str | os.PathLike) -> str:
    conf = read_admin_config(kit)
    return f"{conf.get('host', '?')}:{conf.get('port', '?')}"
