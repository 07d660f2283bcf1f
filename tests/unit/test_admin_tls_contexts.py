"""nvflare < 2.7's AdminAPI makes a TLS context for every command; compat makes each one once (per kit, user and file
state) and reuses it (``compat._ContextPlan``). These tests follow NVFlare 2.5.2's own steps (``AdminAPI._try_command``)
with certificates made here, on any release: the reused context is the one NVFlare would have made, one identity never
gets another's, a kit replaced in place is read again, and a bad key fails where NVFlare catches it."""

from __future__ import annotations

import datetime
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flare_jupyter import compat


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture
def kit(tmp_path):
    """A root CA and two users' certificates and keys, as a provisioned kit holds them."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "rootCA.pem").write_bytes(
        _cert("rootCA", ca_key, "rootCA", ca_key, ca=True).public_bytes(serialization.Encoding.PEM)
    )
    files = {"ca": str(tmp_path / "rootCA.pem")}
    for user in ("admin", "member"):
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / f"{user}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (tmp_path / f"{user}.crt").write_bytes(
            _cert(user, key, "rootCA", ca_key, ca=False).public_bytes(serialization.Encoding.PEM)
        )
        files[user] = (str(tmp_path / f"{user}.crt"), str(tmp_path / f"{user}.key"))
    return files


def nvflare_25_steps(ssl_module, ca: str, cert: str, key: str):
    """What nvflare 2.5.2's ``AdminAPI._try_command`` does before it connects, step for step."""
    ctx = ssl_module.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(certfile=cert, keyfile=key)
    return ctx


def made(plan) -> ssl.SSLContext:
    return compat._context_for(plan._steps)


def test_the_reused_context_is_the_one_nvflare_makes(kit):
    shim = compat._SslWithReusedContexts()
    ours = made(nvflare_25_steps(shim, kit["ca"], *kit["admin"]))
    theirs = nvflare_25_steps(ssl, kit["ca"], *kit["admin"])
    assert isinstance(ours, ssl.SSLContext)
    for attr in ("minimum_version", "verify_mode", "check_hostname", "protocol", "options"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.get_ca_certs() == theirs.get_ca_certs()  # the system's CAs and the kit's root CA, as NVFlare loads
    assert ours.verify_mode == ssl.CERT_REQUIRED


def test_the_same_identity_reuses_one_context_and_another_identity_gets_its_own(kit):
    shim = compat._SslWithReusedContexts()
    first = made(nvflare_25_steps(shim, kit["ca"], *kit["admin"]))
    again = made(nvflare_25_steps(shim, kit["ca"], *kit["admin"]))
    member = made(nvflare_25_steps(shim, kit["ca"], *kit["member"]))
    assert again is first
    assert member is not first


def test_a_kit_replaced_in_place_is_read_again(kit, tmp_path):
    shim = compat._SslWithReusedContexts()
    first = made(nvflare_25_steps(shim, kit["ca"], *kit["admin"]))
    cert, key = kit["member"]
    (tmp_path / "admin.crt").write_bytes((tmp_path / "member.crt").read_bytes() + b"\n")
    (tmp_path / "admin.key").write_bytes((tmp_path / "member.key").read_bytes())
    assert made(nvflare_25_steps(shim, kit["ca"], *kit["admin"])) is not first


def test_a_bad_key_fails_when_nvflare_connects_inside_its_own_try(kit, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    shim = compat._SslWithReusedContexts()
    plan = nvflare_25_steps(shim, kit["ca"], kit["admin"][0], str(bad))  # recording raises nothing yet
    with socket.socket() as sock, pytest.raises(ssl.SSLError):
        plan.wrap_socket(sock, server_hostname="localhost")  # NVFlare's next step, in the try of its load_cert_chain
    assert made(nvflare_25_steps(shim, kit["ca"], *kit["admin"])).verify_mode == ssl.CERT_REQUIRED  # nothing cached


def test_the_rest_of_the_ssl_module_is_the_real_one():
    shim = compat._SslWithReusedContexts()
    assert shim.TLSVersion is ssl.TLSVersion and shim.CERT_REQUIRED is ssl.CERT_REQUIRED


def test_only_releases_that_make_a_context_per_command_are_changed():
    from nvflare.fuel.hci.client import api

    if compat.NVFLARE_VERSION < compat.Version("2.7"):
        assert compat.ADMIN_API_CONTEXT_PER_COMMAND and api.ssl.reuses_contexts
    else:  # 2.7+ connect through the cell network: NVFlare's admin client has no TLS code of its own to change
        assert not compat.ADMIN_API_CONTEXT_PER_COMMAND and getattr(api, "ssl", None) is None
